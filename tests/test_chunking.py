"""Chunks sized by the rows they write (DESIGN "The batch flow"): a small portfolio's
year is one chunk; a book whose sessions write many rows is cut into several, each
within the budget; SNAPFOLIO_CHUNK_SESSIONS still caps a chunk's sessions.

The row estimate and the cuts are checked against plain loops over positions and
sessions."""

from __future__ import annotations

from datetime import date

import batch_helpers
import numpy as np
import pytest

from flows.phases import chunks
from snapfolio.core import calendar
from snapfolio.core.factor_definitions import load_definitions
from snapfolio.core.settings import SettingsError, load_settings
from tests.conftest import EXAMPLES

YEAR = (date(2025, 1, 6), date(2025, 12, 31))


def plain_cuts(sessions: list[date], rows: list[int], budget: int,
               max_sessions: int | None) -> list[date]:
    """Greedy cut, one session at a time."""
    ends, total, count = [], 0, 0
    for i, d in enumerate(sessions):
        if count and (total + rows[i] > budget or (max_sessions and count == max_sessions)):
            ends.append(sessions[i - 1])
            total, count = 0, 0
        total += rows[i]
        count += 1
    ends.append(sessions[-1])
    return ends


@pytest.mark.parametrize("budget,cap", [(10, None), (1_000, None), (250, 3), (10**9, None),
                                        (10**9, 7), (1, None)])
def test_cuts_match_a_plain_greedy_loop(budget: int, cap: int | None) -> None:
    sessions = calendar.sessions_between(date(2025, 1, 2), date(2025, 3, 31))
    rng = np.random.default_rng(budget)
    rows = rng.integers(0, 120, len(sessions))
    got = chunks.chunk_ends(sessions[0], sessions[-1], rows, row_budget=budget,
                            max_sessions=cap)
    assert got == plain_cuts(sessions, [int(r) for r in rows], budget, cap)
    assert got[-1] == sessions[-1]


def test_no_gap_is_no_chunk() -> None:
    assert chunks.chunk_ends(None, date(2025, 3, 3), None, row_budget=10) == []


def test_rows_per_session_counts_open_positions(db) -> None:
    stored = [batch_helpers.store_file(db.engine, EXAMPLES / f"{stem}.csv", stem)
              for stem in ("scott_yaphe_portfolio_5M", "tech_growth_portfolio")]
    ids = [s.portfolio_id for s in stored]
    sessions = calendar.sessions_between(date(2024, 1, 2), YEAR[1])
    got = chunks.rows_per_session(db.engine, ids, sessions)
    positions = db.rows("select entry_date, raw.effective_exit_date(exit_date, expiration) "
                        "as gone from raw.positions where portfolio_id = any(:ids)", ids=ids)
    per_position = 1 + len(load_definitions())
    expected = [sum(1 for p in positions if p["entry_date"] <= d
                    and (p["gone"] is None or d < p["gone"])) * per_position + len(ids)
                for d in sessions]
    assert got.tolist() == expected
    assert max(expected) > len(ids)  # positions were open


def test_a_small_portfolios_year_is_one_chunk(db) -> None:
    pid = batch_helpers.store_file(db.engine, EXAMPLES / "scott_yaphe_portfolio_5M.csv",
                                   "scott").portfolio_id
    default = load_settings().chunk_rows
    assert chunks.plan_chunks(db.engine, [pid], *YEAR, row_budget=default) == [YEAR[1]]
    # a budget of ~20 sessions of this book: several chunks, each within it
    rows = chunks.rows_per_session(db.engine, [pid], calendar.sessions_between(*YEAR))
    budget = int(rows.max()) * 20
    ends = chunks.plan_chunks(db.engine, [pid], *YEAR, row_budget=budget)
    assert len(ends) >= 12
    sessions = calendar.sessions_between(*YEAR)
    first = 0
    for end in ends:
        last = sessions.index(end)
        assert rows[first:last + 1].sum() <= budget
        first = last + 1
    assert chunks.plan_chunks(db.engine, [pid], *YEAR, row_budget=default,
                              max_sessions=60) == calendar.sessions_between(*YEAR)[59::60] + [YEAR[1]]


@pytest.mark.parametrize("value", ["0", "999", "x", "1e20"])
def test_bad_row_budget_names_the_variable(monkeypatch, value: str) -> None:
    monkeypatch.setenv("SNAPFOLIO_CHUNK_ROWS", value)
    with pytest.raises(SettingsError, match="SNAPFOLIO_CHUNK_ROWS"):
        load_settings()


def test_chunk_sessions_is_an_optional_cap(monkeypatch) -> None:
    monkeypatch.delenv("SNAPFOLIO_CHUNK_SESSIONS", raising=False)
    assert load_settings().chunk_sessions is None
    monkeypatch.setenv("SNAPFOLIO_CHUNK_SESSIONS", "40")
    assert load_settings().chunk_sessions == 40
