"""Prefect 3 wrapper of the batch: `portfolio_batch` is the one flow every entry point
runs (schedule, `snapfolio run`, `snapfolio onboard`, the UI's onboarding deployment,
backfills). Phases are tasks (one per phase, one per dbt chunk, never per row).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from prefect import flow, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NONE

from flows.batch import (
    BatchRequest,
    OnboardingRequest,
    ProgressCallback,
    absolute_path,
    execute_batch,
)
from snapfolio.pipeline import BatchSummary

_listeners: list[ProgressCallback] = []


class BatchFailedError(RuntimeError):
    """The run finished as `failed` (e.g. the data-quality gate); carries its summary."""

    def __init__(self, summary: BatchSummary) -> None:
        super().__init__(summary.error or "batch failed")
        self.summary = summary


def add_progress_listener(callback: ProgressCallback) -> None:
    """In-process listeners (the CLI's live progress bar) for the next flow runs."""
    _listeners.append(callback)


def _prefect_runner(name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return task(fn, name=name, cache_policy=NONE, persist_result=False, log_prints=True)(*args, **kwargs)


@flow(name="portfolio-batch", log_prints=True, persist_result=False)
def portfolio_batch(
    as_of: date | None = None,
    portfolios: list[str] | None = None,
    kind: str = "daily",
    csv_path: str | None = None,
    name: str | None = None,
    equity: float | None = None,
    replace: bool = False,
    retry_unavailable: bool = False,
    chunk_sessions: int | None = None,
) -> dict:
    """Bring the scoped portfolios current through `as_of` (default: last NYSE close).

    kind="onboarding" with csv_path and name imports that portfolio first.
    """
    onboarding = None
    if kind == "onboarding" or csv_path:
        if not (csv_path and name):
            raise ValueError("onboarding needs csv_path and name")
        onboarding = OnboardingRequest(absolute_path(csv_path), name,
                                       Decimal(str(equity)) if equity is not None else None, replace)
    request = BatchRequest(kind=kind, as_of=as_of, portfolios=portfolios,
                           retry_unavailable=retry_unavailable, onboarding=onboarding,
                           chunk_sessions=chunk_sessions)
    artifact_id = create_progress_artifact(progress=0.0, description="snapfolio batch progress")

    def on_progress(phase: str, done: int, total: int) -> None:
        update_progress_artifact(artifact_id, progress=round(100.0 * done / max(total, 1), 1),
                                 description=f"{phase} ({done}/{total})")
        for listener in _listeners:
            listener(phase, done, total)

    summary = execute_batch(request, run_phase=_prefect_runner, on_progress=on_progress)
    create_markdown_artifact(summary_markdown(summary), key="batch-summary",
                             description=f"snapfolio run {summary.run_id}")
    if summary.status == "failed":
        raise BatchFailedError(summary)
    return summary.as_stats()


def summary_markdown(summary: BatchSummary) -> str:
    lines = [f"# snapfolio run `{summary.run_id}`: {summary.status}", "",
             f"as_of **{summary.as_of}**, kind {summary.kind}", "",
             "| phase | seconds |", "|---|---:|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in summary.timings.items()]
    lines += ["", "| portfolio | id |", "|---|---:|"]
    lines += [f"| {n} | {i} |" for n, i in sorted(summary.portfolios.items())]
    if summary.skipped:
        lines += ["", "Skipped (held by another run): " + ", ".join(summary.skipped)]
    if summary.unavailable:
        lines += ["", "| unavailable symbol | reason |", "|---|---|"]
        lines += [f"| {s} | {r} |" for s, r in sorted(summary.unavailable.items())]
    if summary.warnings:
        lines += ["", "Warnings:", *[f"- {w}" for w in summary.warnings]]
    if summary.error:
        lines += ["", f"**Error:** {summary.error}"]
    return "\n".join(lines)
