"""Beta writes: one transaction under the factors lock; binary COPY into a temp table,
then one plain ``INSERT`` (a needed pair that already holds some factor rows, which is
rare, has those rows deleted first: the same result as ``INSERT ... ON CONFLICT DO
UPDATE``, about twice as fast on millions of rows); then each priced symbol's range is
recorded as its coverage mark (a symbol with no price at all gets none).
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from factors.needs import Spans
from snapfolio.core.copy import copy_in
from snapfolio.core.sql import sql_text

ANALYZE_MIN_ROWS = 100_000  # rows written that make the table's statistics stale


def copy_records(conn: sa.Connection, records: list[np.ndarray]) -> None:
    """Binary COPY of the fixed-width records into a temp table dropped at commit."""
    conn.execute(sql_text(__file__, "create_incoming_betas"))
    copy_in(conn, "copy incoming_betas from stdin (format binary)", records=records)


def insert_betas(conn: sa.Connection, symbols: list[str], factors: list[str],
                 partial_symbols: list[str], partial_days: list, rows_written: int) -> bool:
    """Move the COPY'd records into raw.symbol_factor_betas; returns True if analyzed."""
    if partial_symbols:
        conn.execute(sql_text(__file__, "delete_partial_betas"),
                     {"symbols": partial_symbols, "days": partial_days, "factors": factors})
    conn.execute(sql_text(__file__, "insert_betas"), {"symbols": symbols, "factors": factors})
    if rows_written < ANALYZE_MIN_ROWS:
        return False
    # a fresh bulk load has no statistics: without them the dbt build that follows plans
    # its beta join for a tiny table (300 s instead of 10 s for a 60-session chunk of
    # 1,000 portfolios)
    conn.execute(sa.text("analyze raw.symbol_factor_betas"))
    return True


def mark_coverage(conn: sa.Connection, spans: Spans, unavailable: set[str],
                  factors: list[str]) -> None:
    """Record each priced span as complete (its missing rows were just written; a symbol
    without any price has no rows, so it gets no mark and stays needed)."""
    keep = [i for i, s in enumerate(spans.symbols) if s not in unavailable]
    if not keep:
        return
    conn.execute(sql_text(__file__, "mark_coverage"), {
        "symbols": [spans.symbols[i] for i in keep], "lo": [spans.lo[i] for i in keep],
        "hi": [spans.hi[i] for i in keep], "ct": [spans.ct[i] for i in keep],
        "factors": sorted(factors)})
