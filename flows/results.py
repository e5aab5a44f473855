"""The per-portfolio results of a run, read from the marts as they are now: what the
CLI's summary table and the Prefect results artifact show."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from snapfolio.core.sql import sql_text


def portfolio_results(engine: Engine, portfolio_ids: list[int], as_of: date) -> list[dict]:
    """Per portfolio: sessions stored, watermark, missing sessions, latest equity and
    P&L and, once the risk marts exist, its latest risk numbers. Set-based; reads the
    incremental mart tables only (never a dbt view a concurrent build may swap)."""
    if not portfolio_ids:
        return []
    with engine.connect() as conn:
        present = conn.execute(sa.text(
            "select to_regclass('marts.fct_portfolio_snapshots') is not null, "
            "to_regclass('marts.fct_portfolio_risk') is not null")).one()
        if not present[0]:
            return []
        name = "portfolio_results" if present[1] else "portfolio_results_accounting"
        rows = conn.execute(sql_text(__file__, name),
                            {"ids": portfolio_ids, "as_of": as_of}).mappings()
        return [dict(r) for r in rows]
