"""Chunk planning: cut the sessions from the earliest gap to as_of into dbt chunks sized
by the rows they write (DESIGN "The batch flow"), not by a fixed number of sessions.

A dbt invocation costs a fixed few seconds whatever it writes, so a small portfolio's
year is one chunk; a large book's backfill is still cut into committed chunks, so an
interrupted one resumes. The rows a session writes are estimated from the positions
open on it (one row per position in `fct_position_values`, one per position and factor
in the exposure mart, one snapshot per portfolio): one cheap query of +1/-1 events,
then a cumulative sum in numpy.
"""

from __future__ import annotations

import logging
from datetime import date

import numpy as np
from sqlalchemy.engine import Engine

from snapfolio.core import calendar
from snapfolio.core.factor_definitions import load_definitions
from snapfolio.core.sql import sql_text

log = logging.getLogger(__name__)


def rows_per_session(engine: Engine, portfolio_ids: list[int],
                     sessions: list[date]) -> np.ndarray:
    """Estimated mart rows each session writes for the portfolios in scope."""
    with engine.connect() as conn:
        events = conn.execute(sql_text(__file__, "open_position_events"),
                              {"ids": portfolio_ids}).all()
    days = np.array(sessions, dtype="datetime64[D]")
    if events:
        when = np.array([e[0] for e in events], dtype="datetime64[D]")
        delta = np.array([e[1] for e in events], dtype=np.int64)
        # positions open on a session: every event on or before it, summed
        open_now = np.concatenate([[0], np.cumsum(delta)])[
            np.searchsorted(when, days, side="right")]
    else:
        open_now = np.zeros(len(days), dtype=np.int64)
    per_position = 1 + len(load_definitions())  # position value + one exposure per factor
    return np.maximum(open_now, 0) * per_position + len(portfolio_ids)


def chunk_ends(start: date | None, as_of: date, rows: np.ndarray | None, *,
               row_budget: int, max_sessions: int | None = None) -> list[date]:
    """Last session of each chunk from `start` to `as_of`: a chunk closes when adding
    the next session would pass `row_budget` rows (a chunk always holds at least one
    session) or when it holds `max_sessions` sessions (SNAPFOLIO_CHUNK_SESSIONS)."""
    if start is None:
        return []
    sessions = calendar.sessions_between(start, as_of)
    if not sessions:
        return []
    per_session = np.zeros(len(sessions), dtype=np.int64) if rows is None else rows
    ends: list[date] = []
    first, n = 0, len(sessions)
    cumulative = np.cumsum(per_session)
    while first < n:
        base = cumulative[first - 1] if first else 0
        # the last session whose running total still fits (at least the first one)
        last = max(int(np.searchsorted(cumulative, base + row_budget, side="right")) - 1, first)
        if max_sessions:
            last = min(last, first + max_sessions - 1)
        ends.append(sessions[last])
        first = last + 1
    return ends


def plan_chunks(engine: Engine, portfolio_ids: list[int], start: date | None, as_of: date,
                *, row_budget: int, max_sessions: int | None = None) -> list[date]:
    """The run's chunk ends: row-budgeted over the portfolios in scope."""
    if start is None:
        log.info("plan: every portfolio in scope is current through %s", as_of)
        return []
    sessions = calendar.sessions_between(start, as_of)
    rows = rows_per_session(engine, portfolio_ids, sessions) if sessions else None
    ends = chunk_ends(start, as_of, rows, row_budget=row_budget, max_sessions=max_sessions)
    if ends:
        limit = str(max_sessions) if max_sessions else f"{row_budget:,} rows"
        log.info("plan: %d session(s) to build, %s..%s, in %d chunk(s) of up to %s",
                 len(sessions), sessions[0], sessions[-1], len(ends), limit)
    return ends
