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
        rows = [dict(r) for r in conn.execute(sql_text(__file__, "portfolio_results"),
                                              {"ids": portfolio_ids, "as_of": as_of}).mappings()]
        latest = [r for r in rows if r["latest_date"] is not None]
        if present[1] and latest:
            risk = {r["portfolio_id"]: dict(r) for r in conn.execute(
                sql_text(__file__, "portfolio_latest_risk"),
                {"ids": [r["portfolio_id"] for r in latest],
                 "days": [r["latest_date"] for r in latest]}).mappings()}
            for r in rows:
                r.update({k: v for k, v in risk.get(r["portfolio_id"], {}).items()
                          if k != "portfolio_id"})
        return rows
