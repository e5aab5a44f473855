"""Deployments of the one flow, served by `snapfolio server` (or `prefect deploy` with
prefect.yaml on a work pool): a daily run after the NYSE close, onboarding and backfill
on demand from the Prefect UI.
"""

from __future__ import annotations

from prefect.schedules import Cron

from flows.flow import portfolio_batch

DAILY_CRON = "30 17 * * 1-5"  # 17:30 New York, weekdays: after the 16:00 close and late prints
TIMEZONE = "America/New_York"


def build_deployments() -> list:
    return [
        portfolio_batch.to_deployment(
            name="daily",
            schedules=[Cron(DAILY_CRON, timezone=TIMEZONE)],
            parameters={"kind": "daily"},
            description="Every active portfolio current through the last NYSE close.",
            tags=["snapfolio", "daily"],
        ),
        portfolio_batch.to_deployment(
            name="onboarding",
            parameters={"kind": "onboarding"},
            description="Onboard a portfolio CSV (csv_path: a file in the inbox, SNAPFOLIO_INBOX; name; optional equity).",
            tags=["snapfolio", "onboarding"],
        ),
        portfolio_batch.to_deployment(
            name="backfill",
            parameters={"kind": "backfill"},
            description="Refill history for the given portfolios through as_of (chunked, resumable).",
            tags=["snapfolio", "backfill"],
        ),
    ]


def serve_deployments() -> None:
    """Register the deployments and execute their runs in this process (blocks)."""
    from prefect import serve

    serve(*build_deployments())
