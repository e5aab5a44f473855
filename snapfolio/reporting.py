"""Read-side summaries for the CLI: one set-based query per table, no per-row loops."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine


def snapshot_summary_rows(engine: Engine, portfolio_ids: list[int]) -> list[dict]:
    """Per portfolio: sessions stored, watermark, missing sessions and the latest snapshot."""
    with engine.connect() as conn:
        if conn.execute(sa.text("select to_regclass('marts.fct_portfolio_snapshots')")).scalar() is None:
            return []
        rows = conn.execute(
            sa.text(
                """
                select p.name, p.portfolio_id,
                       count(s.snapshot_date) as sessions,
                       w.last_complete_date, coalesce(w.missing_sessions, 0) as missing_sessions,
                       (array_agg(s.equity order by s.snapshot_date desc))[1] as equity,
                       (array_agg(s.cumulative_pnl order by s.snapshot_date desc))[1] as cumulative_pnl,
                       (array_agg(s.daily_pnl order by s.snapshot_date desc))[1] as daily_pnl
                from raw.portfolios p
                left join marts.fct_portfolio_snapshots s on s.portfolio_id = p.portfolio_id
                left join marts.portfolio_watermarks w on w.portfolio_id = p.portfolio_id
                where p.portfolio_id = any(:ids)
                group by p.name, p.portfolio_id, w.last_complete_date, w.missing_sessions
                order by p.name
                """
            ),
            {"ids": portfolio_ids},
        ).mappings()
        return [dict(r) for r in rows]
