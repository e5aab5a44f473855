"""raw.symbol_beta_coverage: the factors phase's "betas complete" range per symbol.

The mark must never claim a session whose rows are missing (the triggers shrink it on
any delete), and with it a daily run reads only the new sessions' betas.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from snapfolio.core import calendar
from snapfolio.core.factor_definitions import load_definitions

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "portfolios"
FACTORS = sorted(d.factor for d in load_definitions())


def _rows_for(symbol: str, days: list[date]) -> list[dict]:
    return [{"s": symbol, "d": d, "f": f} for d in days for f in FACTORS]


def _seed(db, symbol: str, days: list[date]) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.text(
            "insert into raw.symbol_factor_betas (symbol, as_of_date, factor, beta, n_obs) "
            "values (:s, :d, :f, 1.0, 90)"), _rows_for(symbol, days))
        conn.execute(sa.text(
            "insert into raw.symbol_beta_coverage (symbol, covered_from, covered_through, factors) "
            "values (:s, :a, :b, :f)"), {"s": symbol, "a": days[0], "b": days[-1], "f": FACTORS})


def _coverage(db, symbol: str):
    row = db.rows("select covered_from, covered_through from raw.symbol_beta_coverage "
                  "where symbol = :s", s=symbol)
    return (row[0]["covered_from"], row[0]["covered_through"]) if row else None


def _delete(db, where: str, **params) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"delete from raw.symbol_factor_betas where {where}"), params)


@pytest.mark.parametrize(
    ("deleted", "expected"),
    [
        # (first, last) index of the deleted sessions among the 10 -> remaining range
        ((9, 9), (0, 8)),  # the end: covered up to the day before
        ((6, 9), (0, 5)),
        ((0, 0), (1, 9)),  # the start: covered from the day after
        ((3, 5), (6, 9)),  # the middle: the later part is kept
        ((0, 9), None),  # everything: no mark
    ],
)
def test_deleting_betas_shrinks_the_mark(db, deleted, expected):
    days = calendar.sessions_between(date(2025, 3, 3), date(2025, 3, 14))
    assert len(days) == 10
    _seed(db, "AAA", days)
    _seed(db, "BBB", days)
    _delete(db, "symbol = 'AAA' and as_of_date between :a and :b and factor = :f",
            a=days[deleted[0]], b=days[deleted[1]], f=FACTORS[0])
    got = _coverage(db, "AAA")
    if expected is None:
        assert got is None
    else:
        # the mark is a date range: its ends may be non-session days around the hole
        lo, hi = got
        covered = [d for d in days if lo <= d <= hi]
        assert covered == days[expected[0]:expected[1] + 1]
    assert _coverage(db, "BBB") == (days[0], days[-1])  # other symbols untouched
    # and whatever is left claimed is complete
    if got is not None:
        assert db.scalar(
            "select count(*) from raw.symbol_factor_betas where symbol = 'AAA' "
            "and as_of_date between :a and :b", a=got[0], b=got[1]) == \
            len([d for d in days if got[0] <= d <= got[1]]) * len(FACTORS)


def test_update_moving_rows_and_truncate_shrink_the_mark(db):
    days = calendar.sessions_between(date(2025, 3, 3), date(2025, 3, 14))
    _seed(db, "AAA", days)
    with db.engine.begin() as conn:
        conn.execute(sa.text(
            "update raw.symbol_factor_betas set as_of_date = '2024-01-02' "
            "where symbol = 'AAA' and as_of_date = :d"), {"d": days[-1]})
    assert _coverage(db, "AAA")[1] < days[-1]
    with db.engine.begin() as conn:
        conn.execute(sa.text("truncate raw.symbol_factor_betas"))
    assert _coverage(db, "AAA") is None


def test_a_run_marks_complete_ranges_and_a_daily_run_reads_only_new_sessions(db):
    """After a batch, each held priced symbol's mark spans its held sessions and every
    session in it has every factor (counted independently of the mark's writer); the
    next day's needed-pairs query then reads no stored beta of earlier sessions."""
    import batch_helpers

    from snapfolio.core.settings import load_settings

    settings = replace(load_settings(), price_provider="synthetic", chunk_sessions=5000)
    pid = batch_helpers.store_file(db.engine, EXAMPLES / "scott_yaphe_portfolio_5M.csv",
                                "scott").portfolio_id
    as_of = date(2025, 10, 31)
    summary = batch_helpers.run_batch(db.engine, settings, db.url, as_of=as_of)
    assert summary.status in ("completed", "completed_with_warnings"), summary.error

    marks = db.rows("select symbol, covered_from, covered_through from raw.symbol_beta_coverage")
    held = db.rows(
        """
        select coalesce(underlying_symbol, symbol) as symbol, min(entry_date) as first
        from raw.positions group by 1
        """)
    assert {m["symbol"] for m in marks} == {h["symbol"] for h in held}
    first = {h["symbol"]: h["first"] for h in held}
    for m in marks:
        assert m["covered_from"] == first[m["symbol"]]
        sessions = [d for d in calendar.sessions_between(m["covered_from"], as_of)
                    if d <= m["covered_through"]]
        assert db.scalar(
            "select count(*) from raw.symbol_factor_betas where symbol = :s "
            "and as_of_date between :a and :b",
            s=m["symbol"], a=m["covered_from"], b=m["covered_through"]) == \
            len(sessions) * len(FACTORS), m

    nxt = calendar.next_session(as_of)
    # the next session has no betas yet: nothing of the history is read
    assert _betas_read_for_next_day(db, pid, nxt) == 0
    # whereas without the marks the same query reads the whole held history
    with db.engine.begin() as conn:
        conn.execute(sa.text("delete from raw.symbol_beta_coverage"))
    # (per-loop averages are rounded in EXPLAIN: compare loosely)
    assert _betas_read_for_next_day(db, pid, nxt) >= 0.95 * db.scalar(
        "select count(*) from raw.symbol_factor_betas")


def _betas_read_for_next_day(db, pid: int, day: date) -> float:
    """Beta rows the factors phase's needed-pairs query reads for ``day`` (EXPLAIN ANALYZE)."""
    from factors import needs
    from snapfolio.core.sql import load_sql

    with db.engine.begin() as conn:
        spans = needs.held_spans(conn, [pid], day, FACTORS)
        plan = conn.execute(sa.text("explain (analyze, format json) "
                                    + load_sql(needs.__file__, "needed_pairs")),
                            {**spans.params(), "factors": FACTORS,
                             "n_factors": len(FACTORS)}).scalar()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    return _rows_read(plan[0]["Plan"], "symbol_factor_betas")


def _rows_read(node: dict, relation: str) -> int:
    """Rows produced by every scan of ``relation`` in an EXPLAIN ANALYZE plan."""
    own = node.get("Actual Rows", 0) * node.get("Actual Loops", 1) \
        if node.get("Relation Name") == relation else 0
    return own + sum(_rows_read(child, relation) for child in node.get("Plans", []))
