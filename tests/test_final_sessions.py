"""Final sessions (DESIGN "Input limits"): a position entered before its symbol's price
history starts. The sessions before the first price are incomplete, and the providers
were already asked for them and had nothing: they are final — reported in the run
summary, not rebuilt and not asked for again on every run, and the gate passes — until a
price for one of them arrives, which restates it and the next run rebuilds it.

The expected sessions and values are computed here from the calendar and the stored
closes (plain loops), not read from the marts' own rules.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import batch_helpers
import pytest

from expectations import run_checks
from ingest.manual_prices import load_manual_prices
from ingest.providers import SyntheticProvider
from ingest.providers.base import FetchResult
from snapfolio.core import calendar

AS_OF = date(2025, 2, 7)
ENTRY = date(2025, 1, 2)
FIRST_PRICE = date(2025, 1, 21)  # the late symbol's history starts here
LATE, HELD = "ZNEW", "AAPL"
HEADER = ("Symbol,Quantity,Entry Price Per Share,Entry Date,Investment Class,Investment Subtype,"
          "Underlying Symbol,Strike Price,Expiration Date,Option Type,Exit Date,Exit Price Per Share")
QUANTITIES = {HELD: 100, LATE: 50}
ENTRY_PRICES = {HELD: 180.0, LATE: 40.0}


class MissingHead(SyntheticProvider):
    """Synthetic prices, but no LATE close before FIRST_PRICE; counts every fetch."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.calls: list[tuple[list[str], date, date]] = []

    def fetch(self, symbols: list[str], start: date, end: date) -> FetchResult:
        self.calls.append((list(symbols), start, end))
        result = super().fetch(symbols, start, end)
        p = result.prices
        result.prices = p[~((p["symbol"] == LATE) & (p["price_date"] < FIRST_PRICE))].reset_index(
            drop=True)
        return result


def _final_sessions() -> list[date]:
    """Sessions from the entry with no LATE close on them nor before: all before FIRST_PRICE."""
    return [d for d in calendar.sessions_between(ENTRY, AS_OF) if d < FIRST_PRICE]


def _snapshots(db, pid: int) -> dict[date, dict]:
    return {r["snapshot_date"]: r for r in db.rows(
        "select snapshot_date, equity, is_complete, is_final from marts.fct_portfolio_snapshots "
        "where portfolio_id = :p", p=pid)}


def _lag_check(db, settings, pid: int) -> dict:
    report = run_checks(settings, engine=db.engine, as_of=AS_OF, portfolio_ids=[pid])
    return next(r for r in report.results if r["name"] == "no_portfolio_lags")


@pytest.fixture
def late_portfolio(db, tmp_path):
    path = tmp_path / "late.csv"
    path.write_text("\n".join([HEADER] + [
        f"{s},{QUANTITIES[s]},{ENTRY_PRICES[s]},{ENTRY},PUBLIC,STOCK,,,,,," for s in (HELD, LATE)
    ]) + "\n")
    return batch_helpers.store_file(db.engine, path, "late_history").portfolio_id


def test_final_sessions_reported_not_rebuilt_not_reasked_until_a_price_arrives(
        db, settings, late_portfolio, tmp_path) -> None:
    pid = late_portfolio
    finals = _final_sessions()
    assert finals[0] == ENTRY and finals[-1] == date(2025, 1, 17)  # 2025-01-20 is a holiday

    provider = MissingHead()
    first = batch_helpers.run_batch(db.engine, settings, db.url, as_of=AS_OF, provider=provider)
    assert first.status == "completed", (first.status, first.warnings, first.checks)
    assert any(LATE in c[0] for c in provider.calls)
    note = (f"portfolio late_history: {len(finals)} session(s) {finals[0]}..{finals[-1]} final "
            f"(the providers had no {LATE} close for them")
    assert any(n.startswith(note) for n in first.notes), first.notes
    snaps = _snapshots(db, pid)
    assert sorted(snaps) == calendar.sessions_between(ENTRY, AS_OF)
    assert [d for d, r in sorted(snaps.items()) if r["is_final"]] == finals
    assert all(not r["is_complete"] for d, r in snaps.items() if d in finals)
    assert all(r["is_complete"] and not r["is_final"] for d, r in snaps.items() if d not in finals)
    # valued as Accounting says: the late symbol at its entry price, so its P&L is 0 and
    # the equity moves with the held symbol's close alone (plain arithmetic here)
    initial = sum(abs(QUANTITIES[s] * ENTRY_PRICES[s]) for s in QUANTITIES)
    closes = {r["price_date"]: r["close"] for r in db.rows(
        "select price_date, close from raw.prices where symbol = :s", s=HELD)}
    for d in finals:
        expected = initial + QUANTITIES[HELD] * (closes[d] - ENTRY_PRICES[HELD])
        assert snaps[d]["equity"] == pytest.approx(expected, rel=1e-12)
    assert _lag_check(db, settings, pid)["success"]
    watermark = db.rows("select last_complete_date, missing_sessions, final_sessions "
                        "from marts.portfolio_watermarks where portfolio_id = :p", p=pid)
    assert watermark == [{"last_complete_date": AS_OF, "missing_sessions": 0,
                          "final_sessions": len(finals)}]

    # second run: nothing to rebuild, nothing to ask, still reported, the gate passes
    provider.calls.clear()
    second = batch_helpers.run_batch(db.engine, settings, db.url, as_of=AS_OF, provider=provider)
    assert second.status == "completed", (second.status, second.warnings, second.checks)
    assert provider.calls == [] and second.prices["provider_requests"] == 0
    assert second.chunks == []  # the plan found no gap (flows/phases/sql/first_gap.sql)
    assert second.dbt_rows.get("fct_portfolio_snapshots", 0) == 0, second.dbt_rows
    assert second.dbt_rows.get("fct_position_values", 0) == 0, second.dbt_rows
    assert any(n.startswith(note) for n in second.notes), second.notes
    assert _snapshots(db, pid) == snaps

    # a price for one of them arrives: a restatement, and the next run rebuilds from it
    arrived = date(2025, 1, 10)
    manual = tmp_path / "late_prices.csv"
    manual.write_text(f"symbol,date,close\n{LATE},{arrived},41.5\n")
    assert load_manual_prices(db.engine, manual, today=date(2026, 1, 7)).restated_portfolios == 1
    assert db.scalar("select min(from_date) from raw.restatements where portfolio_id = :p",
                     p=pid) == arrived
    third = batch_helpers.run_batch(db.engine, settings, db.url, as_of=AS_OF, provider=provider)
    assert third.status == "completed", (third.status, third.warnings, third.checks)
    rebuilt = calendar.sessions_between(arrived, AS_OF)
    assert third.dbt_rows.get("fct_portfolio_snapshots", 0) == len(rebuilt), third.dbt_rows
    after = _snapshots(db, pid)
    still_final = [d for d in finals if d < arrived]
    assert [d for d, r in sorted(after.items()) if r["is_final"]] == still_final
    # from the arrived close on, the late symbol is priced (close, then stale) and complete
    assert all(after[d]["is_complete"] for d in rebuilt)
    priced = {r["snapshot_date"]: (r["price"], r["price_source"]) for r in db.rows(
        "select snapshot_date, price, price_source from marts.fct_position_values "
        "where portfolio_id = :p and symbol = :s and snapshot_date between :a and :b",
        p=pid, s=LATE, a=arrived, b=finals[-1])}
    assert priced[arrived] == (41.5, "close")
    assert all(priced[d] == (41.5, "stale") for d in rebuilt if arrived < d <= finals[-1])
    assert any(n.startswith(f"portfolio late_history: {len(still_final)} session(s) "
                            f"{still_final[0]}..{still_final[-1]} final") for n in third.notes)
    assert provider.calls == []  # still nothing asked again


def test_the_gate_flags_a_final_session_whose_close_arrived_unbuilt(
        db, settings, late_portfolio) -> None:
    """The gate re-derives finality: a close stored for a final session that no build
    picked up (here written behind the restatement's back) is a lag again."""
    pid = late_portfolio
    batch_helpers.run_batch(db.engine, settings, db.url, as_of=AS_OF, provider=MissingHead())
    assert _lag_check(db, settings, pid)["success"]
    day = _final_sessions()[3]
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            "insert into raw.prices (symbol, price_date, close, source) "
            f"values ('{LATE}', '{day}', 41.0, 'manual')")
    lags = _lag_check(db, settings, pid)
    assert not lags["success"]
    assert f"1 session(s) missing or incomplete from {day}" in str(lags["details"])
