"""Read-side summaries for the CLI: set-based queries, no per-row loops.

Reads only the incremental mart tables and raw tables, never dbt views: a concurrent
`dbt build` re-creates views, and a reader racing that swap would fail.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from snapfolio.core.sql import sql_text


def snapshot_summary_rows(engine: Engine, portfolio_ids: list[int], as_of: date) -> list[dict]:
    """Per portfolio: sessions stored, watermark (last session before the first gap),
    sessions missing or incomplete through as_of, and the latest snapshot's figures."""
    with engine.connect() as conn:
        if conn.execute(sa.text("select to_regclass('marts.fct_portfolio_snapshots')")).scalar() is None:
            return []
        rows = conn.execute(
            sql_text(__file__, "portfolio_summary"), {"ids": portfolio_ids, "as_of": as_of},
        ).mappings()
        return [dict(r) for r in rows]
