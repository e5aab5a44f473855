"""Scoped, incremental price ingest against real PostgreSQL (issue 4).

Providers are real classes (synthetic, yfinance with a fake downloader, csv, chain);
a counting wrapper records every fetch so the tests can prove what was asked for.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import batch_helpers
import numpy as np
import pandas as pd
import pytest
import requests
from tenacity import wait_none

from ingest.portfolio_csv import PositionRow
from ingest.portfolio_store import store_portfolio
from ingest.price_plan import plan_prices, refetch_from
from ingest.price_sanity import sanity_filter
from ingest.price_store import write_prices
from ingest.providers import (
    FetchResult,
    ProviderChain,
    ProviderError,
    SyntheticProvider,
    YFinanceProvider,
    provider_from_spec,
)
from snapfolio.core import calendar

REPO = Path(__file__).resolve().parent.parent
SCOTT = REPO / "examples" / "portfolios" / "scott_yaphe_portfolio_5M.csv"
PRIVATE_FUNDS = Path(__file__).parent / "data" / "prices" / "private_funds.csv"
SCOTT_SYMBOLS = {"GINDX", "VUG", "IEFA", "VTV", "GGIPX", "VO", "XLV", "NEAIX", "BIL", "GOVT",
                 "MUB", "LQD", "IAU"}
UNAVAILABLE = {"GGIPX", "NEAIX"}
AS_OF = date(2025, 12, 31)
ENTRY = date(2025, 1, 6)


def _etfs() -> list[str]:
    from snapfolio.core.factor_definitions import factor_etfs

    return factor_etfs()


def _back() -> int:
    from snapfolio.core.factor_definitions import lookback_sessions

    return lookback_sessions() + 1 + 5


class Counting:
    """Wraps a provider; records (symbols, start, end) of every fetch."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.name = inner, inner.name
        self.calls: list[tuple[list[str], date, date]] = []

    def fetch(self, symbols: list[str], start: date, end: date) -> FetchResult:
        self.calls.append((list(symbols), start, end))
        return self.inner.fetch(symbols, start, end)

    @property
    def symbols(self) -> set[str]:
        return {s for syms, _, _ in self.calls for s in syms}


class FakeYahoo:
    """A yfinance.download stand-in: synthetic closes in yfinance's (Ticker, Price) shape.

    The first `fail_first` calls (and every call after `fail_after` successes) raise
    HTTP 429 like Yahoo's rate limiter; `lacks` are tickers Yahoo has no data for.
    """

    def __init__(self, fail_first: int = 0, fail_after: int | None = None,
                 lacks: set[str] = frozenset()) -> None:
        self.fail_first, self.fail_after, self.lacks = fail_first, fail_after, lacks
        self.calls: list[list[str]] = []
        self.ok = 0
        self.source = SyntheticProvider()

    def __call__(self, *, tickers: list[str], start: str, end: str, **_: Any) -> pd.DataFrame:
        self.calls.append(list(tickers))
        if len(self.calls) <= self.fail_first or (
                self.fail_after is not None and self.ok >= self.fail_after):
            response = requests.Response()
            response.status_code = 429
            raise requests.exceptions.HTTPError("429 Client Error: Too Many Requests",
                                                response=response)
        self.ok += 1
        r = self.source.fetch([t for t in tickers if t not in self.lacks],
                              date.fromisoformat(start),
                              date.fromisoformat(end) - timedelta(days=1))  # end is exclusive
        wide = {col: r.prices.pivot(index="price_date", columns="symbol", values=field)
                for col, field in (("Close", "close"), ("Adj Close", "adj_close"))}
        frame = pd.concat(wide, axis=1).swaplevel(axis=1).sort_index(axis=1)
        frame.columns.names = ["Ticker", "Price"]
        frame.index = pd.DatetimeIndex(pd.to_datetime(frame.index), name="Date")
        return frame


def _yahoo(fake: FakeYahoo, **kw: Any) -> YFinanceProvider:
    return YFinanceProvider(downloader=fake, wait=wait_none(), **kw)


def _onboard(db) -> int:
    return batch_helpers.store_file(db.engine, SCOTT, "scott").portfolio_id


def _state(db) -> tuple:
    """Everything ingest writes, to prove a failed ingest wrote nothing."""
    return (db.rows("select * from raw.prices order by symbol, price_date"),
            db.rows("select * from raw.symbol_status order by symbol"),
            db.rows("select * from raw.restatements order by restatement_id"))


# ---------------------------------------------------------------- 1. scope and increments


def test_onboarding_scope_then_nothing_then_one_session(db, settings, caplog) -> None:
    pid = _onboard(db)
    provider = Counting(SyntheticProvider())
    with caplog.at_level(logging.INFO, logger="ingest"):
        result = batch_helpers.ingest_prices(db.engine, settings, [pid], AS_OF, provider=provider)

    scope = SCOTT_SYMBOLS | set(_etfs())
    assert len(scope) == 19  # VUG and VTV are both held and factor ETFs
    start = calendar.sessions_back(ENTRY, _back())
    assert len(provider.calls) == 1  # one batched request for the one date range
    symbols, first, last = provider.calls[0]
    assert set(symbols) == scope and len(symbols) == 19
    assert (first, last) == (start, AS_OF)
    sessions = calendar.sessions_between(start, AS_OF)
    assert result.rows_stored == 19 * len(sessions)
    assert db.scalar("select count(*) from raw.prices") == 19 * len(sessions)
    assert db.scalar("select count(distinct symbol) from raw.prices") == 19
    assert db.rows("select distinct source from raw.prices") == [{"source": "synthetic"}]
    status = db.rows("select * from raw.symbol_status order by symbol")
    assert {r["symbol"] for r in status} == scope
    assert all(r["status"] == "available" and r["covered_from"] == start
               and r["covered_to"] == AS_OF for r in status)

    stats = result.as_stats()
    assert stats["plan"]["scoped_symbols"] == sorted(scope) and stats["requests_planned"] == 1
    assert stats["plan"]["requests"] == [{"start": start.isoformat(), "end": AS_OF.isoformat(),
                                          "symbols": sorted(scope)}]
    assert stats["provider_requests"] == 1 and stats["rows_stored"] == result.rows_stored
    assert stats["unavailable"] == {} and stats["rejected"] == []
    assert set(stats["timings"]) == {"fetch_s", "store_s"}
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
    assert "19 symbols in scope" in logged and "GINDX" in logged and "× 19" in logged
    assert f"stored {result.rows_stored} price row(s)" in logged

    again = Counting(SyntheticProvider())
    second = batch_helpers.ingest_prices(db.engine, settings, [pid], AS_OF, provider=again)
    assert again.calls == [] and second.provider_requests == 0 and second.rows_stored == 0
    assert second.plan.requests == [] and len(second.plan.complete_symbols) == 19

    next_day = calendar.next_session(AS_OF)
    daily = Counting(SyntheticProvider())
    third = batch_helpers.ingest_prices(db.engine, settings, [pid], next_day, provider=daily)
    assert [(set(s), a, b) for s, a, b in daily.calls] == [(scope, next_day, next_day)]
    assert third.rows_stored == 19
    assert db.scalar("select min(covered_to) from raw.symbol_status") == next_day


def test_second_portfolio_asks_only_for_its_new_symbols(db, settings) -> None:
    pid = _onboard(db)
    batch_helpers.ingest_prices(db.engine, settings, [pid], AS_OF, provider=SyntheticProvider())
    other = _portfolio(db, "other", [("AAPL", date(2025, 6, 2)), ("VUG", date(2025, 6, 2))])
    provider = Counting(SyntheticProvider())
    batch_helpers.ingest_prices(db.engine, settings, [pid, other], AS_OF, provider=provider)
    # VUG and the ETFs are covered already; only AAPL's range is missing
    assert [(s, a, b) for s, a, b in provider.calls] == [
        (["AAPL"], calendar.sessions_back(date(2025, 6, 2), _back()), AS_OF)]


def _portfolio(db, name: str, holdings: list[tuple[str, date]]) -> int:
    rows = [PositionRow(line=i + 2, symbol=s, underlying_symbol=None, quantity=Decimal(10),
                        entry_price=Decimal(100), entry_date=d, exit_date=None, exit_price=None,
                        investment_class="PUBLIC", investment_subtype="STOCK", option_type=None,
                        strike=None, expiration=None, multiplier=1)
            for i, (s, d) in enumerate(holdings)]
    with db.engine.begin() as conn:
        return store_portfolio(conn, name, rows).portfolio_id


def test_exited_and_expired_positions_are_not_fetched_past_their_end(db, settings) -> None:
    rows = [
        PositionRow(line=2, symbol="AAPL", underlying_symbol=None, quantity=Decimal(1),
                    entry_price=Decimal(100), entry_date=date(2025, 1, 6),
                    exit_date=date(2025, 3, 3), exit_price=Decimal(110),
                    investment_class="PUBLIC", investment_subtype="STOCK", option_type=None,
                    strike=None, expiration=None, multiplier=1),
        PositionRow(line=3, symbol="IWM250620C00220000", underlying_symbol="IWM",
                    quantity=Decimal(1), entry_price=Decimal(5), entry_date=date(2025, 1, 6),
                    exit_date=None, exit_price=None, investment_class="OPTIONS",
                    investment_subtype=None, option_type="CALL", strike=Decimal(220),
                    expiration=date(2025, 6, 20), multiplier=100),
    ]
    with db.engine.begin() as conn:
        pid = store_portfolio(conn, "closed", rows).portfolio_id
    batch_helpers.ingest_prices(db.engine, settings, [pid], AS_OF, provider=SyntheticProvider())
    later = Counting(SyntheticProvider())
    result = batch_helpers.ingest_prices(db.engine, settings, [pid], AS_OF, provider=later)
    assert later.calls == [] and result.plan.requests == []  # nothing re-asked every run
    assert db.scalar("select max(price_date) from raw.prices where symbol = 'AAPL'") == date(2025, 3, 3)


# ---------------------------------------------------------------- 2. unavailable symbols


def test_unavailable_symbols_recorded_cooled_off_and_retried(db, settings) -> None:
    pid = _onboard(db)
    provider = Counting(SyntheticProvider(unavailable=UNAVAILABLE))
    before = datetime.now(UTC)
    result = batch_helpers.ingest_prices(db.engine, settings, [pid], AS_OF, provider=provider)
    assert result.unavailable == {s: "no data from synthetic provider" for s in UNAVAILABLE}
    status = {r["symbol"]: r for r in db.rows(
        "select * from raw.symbol_status where status = 'unavailable'")}
    assert set(status) == UNAVAILABLE
    for row in status.values():
        assert row["reason"] == "no data from synthetic provider"
        assert row["last_attempt_at"] >= before and row["covered_to"] is None
    assert db.scalar("select count(*) from raw.prices where symbol = any(:s)",
                     s=list(UNAVAILABLE)) == 0

    # within the cool-off: not asked, reported as cooling off; nothing else to ask either
    again = Counting(SyntheticProvider(unavailable=UNAVAILABLE))
    second = batch_helpers.ingest_prices(db.engine, settings, [pid], AS_OF, provider=again)
    assert again.calls == [] and set(second.plan.cooling_off) == UNAVAILABLE
    assert second.as_stats()["cooling_off"] == dict.fromkeys(
        sorted(UNAVAILABLE), "no data from synthetic provider")

    # after the cool-off (explicit `now`): planned again, over their whole range
    with db.engine.connect() as conn:
        later = plan_prices(conn, [pid], AS_OF, factor_symbols=_etfs(),
                            lookback_sessions=_back() - 6,
                            now=datetime.now(UTC) + timedelta(hours=25))
    assert later.cooling_off == {}
    assert [(set(r.symbols), r.start, r.end) for r in later.requests] == [
        (UNAVAILABLE, calendar.sessions_back(ENTRY, _back()), AS_OF)]

    # ... and through the pipeline once last_attempt_at is older than the cool-off
    with db.engine.begin() as conn:
        conn.exec_driver_sql("update raw.symbol_status set last_attempt_at = now() - "
                             "interval '25 hours' where status = 'unavailable'")
    third = Counting(SyntheticProvider(unavailable=UNAVAILABLE))
    batch_helpers.ingest_prices(db.engine, settings, [pid], AS_OF, provider=third)
    assert third.symbols == UNAVAILABLE and len(third.calls) == 1
    assert db.scalar("select min(last_attempt_at) from raw.symbol_status "
                     "where status = 'unavailable'") > datetime.now(UTC) - timedelta(minutes=5)

    # --retry-unavailable asks at once, cool-off or not
    forced = Counting(SyntheticProvider(unavailable=UNAVAILABLE))
    batch_helpers.ingest_prices(db.engine, settings, [pid], AS_OF, provider=forced,
                           retry_unavailable=True)
    assert forced.symbols == UNAVAILABLE


def test_batch_values_unavailable_funds_at_entry_and_completes(db, settings) -> None:
    pid = _onboard(db)
    provider = Counting(SyntheticProvider(unavailable=UNAVAILABLE))
    summary = batch_helpers.run_batch(db.engine, settings, db.url, as_of=AS_OF, provider=provider)
    assert summary.status == "completed_with_warnings", summary.error
    assert sum("GGIPX unavailable" in w for w in summary.warnings) == 1
    assert sum("NEAIX unavailable" in w for w in summary.warnings) == 1
    assert summary.prices["unavailable"].keys() == UNAVAILABLE
    rows = db.rows("select symbol, price, price_source from marts.fct_position_values "
                   "where portfolio_id = :p and snapshot_date = :d", p=pid, d=AS_OF)
    assert len(rows) == 13
    by = {r["symbol"]: r for r in rows}
    assert {s for s, r in by.items() if r["price_source"] == "close"} == SCOTT_SYMBOLS - UNAVAILABLE
    assert {s for s, r in by.items() if r["price_source"] == "entry"} == UNAVAILABLE
    assert by["GGIPX"]["price"] == pytest.approx(22.40) and by["NEAIX"]["price"] == pytest.approx(64.32)
    snaps = db.rows("select count(*) as n, bool_and(is_complete) as complete "
                    "from marts.fct_portfolio_snapshots where portfolio_id = :p", p=pid)[0]
    assert snaps == {"n": len(calendar.sessions_between(ENTRY, AS_OF)), "complete": True}


# ---------------------------------------------------------------- 3. retries, failures


def test_rate_limited_twice_then_success(db, settings) -> None:
    pid = _onboard(db)
    fake = FakeYahoo(fail_first=2)
    result = batch_helpers.ingest_prices(db.engine, settings, [pid], AS_OF,
                                    provider=_yahoo(fake, max_attempts=5))
    assert len(fake.calls) == 3 and result.provider_requests == 3
    assert result.unavailable == {} and result.rejected == []
    assert db.scalar("select count(distinct symbol) from raw.prices where source = 'yfinance'") == 19


def test_yfinance_chunks_one_planned_range(db, settings) -> None:
    pid = _onboard(db)
    fake = FakeYahoo()
    result = batch_helpers.ingest_prices(db.engine, settings, [pid], AS_OF,
                                    provider=_yahoo(fake, chunk_size=8))
    assert len(result.plan.requests) == 1
    assert [len(c) for c in fake.calls] == [8, 8, 3] and result.provider_requests == 3


def test_provider_failing_for_good_writes_nothing(db, settings) -> None:
    pid = _onboard(db)
    batch_helpers.ingest_prices(db.engine, settings, [pid], AS_OF, provider=SyntheticProvider())
    other = _portfolio(db, "other", [("AAPL", date(2025, 6, 2))])
    before = _state(db)
    next_day = calendar.next_session(AS_OF)
    # two planned ranges (AAPL's history, everyone's next session): the first one
    # succeeds, the second is rate limited until the retries run out
    fake = FakeYahoo(fail_after=1)
    with pytest.raises(ProviderError) as err:
        batch_helpers.ingest_prices(db.engine, settings, [pid, other], next_day,
                               provider=_yahoo(fake, max_attempts=3))
    assert len(fake.calls) == 4 and fake.calls[0] == ["AAPL"]
    assert err.value.provider == "yfinance"
    assert set(err.value.symbols) == SCOTT_SYMBOLS | set(_etfs())
    assert "yfinance" in str(err.value) and "gave up after 3 attempt(s)" in str(err.value)
    assert "429" in str(err.value)
    assert _state(db) == before  # not even AAPL's successful range was written


# ---------------------------------------------------------------- 4. provider chain


def test_chain_falls_back_to_csv_and_records_the_source(db, settings) -> None:
    pid = _onboard(db)
    chain = provider_from_spec(f"yfinance,csv:{PRIVATE_FUNDS}")
    assert isinstance(chain, ProviderChain)
    fake = FakeYahoo(lacks=UNAVAILABLE)
    yahoo, csv = chain.providers
    yahoo.downloader, yahoo.wait = fake, wait_none()
    chain.providers = [Counting(yahoo), Counting(csv)]
    as_of = date(2025, 1, 31)
    result = batch_helpers.ingest_prices(db.engine, settings, [pid], as_of, provider=chain)
    assert chain.providers[0].symbols == SCOTT_SYMBOLS | set(_etfs())
    assert chain.providers[1].symbols == UNAVAILABLE  # asked only for what Yahoo lacks
    assert result.unavailable == {}
    sources = {r["symbol"]: r["sources"] for r in db.rows(
        "select symbol, array_agg(distinct source) as sources from raw.prices group by symbol")}
    assert {s for s, v in sources.items() if v == [f"csv:{PRIVATE_FUNDS}"]} == UNAVAILABLE
    assert {s for s, v in sources.items() if v == ["yfinance"]} == (
        SCOTT_SYMBOLS | set(_etfs())) - UNAVAILABLE
    csv_days = len(calendar.sessions_between(date(2025, 1, 2), as_of))
    assert db.scalar("select count(*) from raw.prices where symbol = 'GGIPX'") == csv_days
    assert db.scalar("select close from raw.prices where symbol = 'GGIPX' "
                     "and price_date = '2025-01-02'") == 22.67


# ---------------------------------------------------------------- 5. sanity filter


def _frame(symbol: str, closes: list[float], start: date = date(2025, 3, 3)) -> pd.DataFrame:
    days = calendar.sessions_between(start, start + timedelta(days=60))[: len(closes)]
    return pd.DataFrame({"symbol": symbol, "price_date": days, "close": closes,
                         "adj_close": closes})


def test_sanity_filter_keeps_the_day_after_a_spike() -> None:
    prices = pd.concat([
        _frame("SPIKE", [10, 200, 10.1, 10.2]),       # one-day spike up
        _frame("DIP", [10, 10, 0.5, 10.3]),           # one-day collapse
        _frame("TWO", [10, 300, 310, 10.4, 10.5]),    # a two-day spike
        _frame("FIRST", [500, 10, 11]),               # first row absurd vs the stored close
        _frame("BAD", [10, -1, np.nan, 0, 11]),
        _frame("OK", [10, 95, 950]),                  # ×9.5 then ×10: at the limit, kept
    ], ignore_index=True)
    kept, rejected = sanity_filter(prices, {"FIRST": 10.0, "OK": 1.2}, max_move=10)
    assert Counter(r.symbol for r in rejected) == {"SPIKE": 1, "DIP": 1, "TWO": 2, "FIRST": 1,
                                                   "BAD": 3}
    assert kept.groupby("symbol")["close"].apply(list).to_dict() == {
        "SPIKE": [10, 10.1, 10.2], "DIP": [10, 10, 10.3], "TWO": [10, 10.4, 10.5],
        "FIRST": [10, 11], "BAD": [10, 11], "OK": [10, 95, 950]}
    spike = next(r for r in rejected if r.symbol == "SPIKE")
    assert spike.price_date == date(2025, 3, 4) and spike.reason == "one-day move beyond x10 from 10"
    assert next(r for r in rejected if r.symbol == "BAD").reason == "non-positive or missing price"


def test_sanity_filter_level_shift_is_bounded_in_passes() -> None:
    # a persistent ×20 level change: every row stays absurd against the last accepted close
    prices = _frame("SHIFT", [10.0] * 5 + [200.0] * 30)
    kept, rejected = sanity_filter(prices, {}, max_move=10)
    assert kept["close"].tolist() == [10.0] * 5 and len(rejected) == 30


class Corrupting(SyntheticProvider):
    """Synthetic prices with chosen closes scaled or replaced: {(symbol, date): value}."""

    def __init__(self, scale: dict | None = None, set_to: dict | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.scale, self.set_to = scale or {}, set_to or {}

    def fetch(self, symbols: list[str], start: date, end: date) -> FetchResult:
        result = super().fetch(symbols, start, end)
        p = result.prices
        for (symbol, day), value in [*self.scale.items(), *self.set_to.items()]:  # a few cells
            hit = ((p["symbol"] == symbol) & (p["price_date"] == day)).to_numpy()
            new = p.loc[hit, "close"] * value if (symbol, day) in self.scale else value
            p.loc[hit, "close"] = new
        return result


def test_absurd_prices_rejected_reported_and_not_stored(db, settings) -> None:
    pid = _onboard(db)
    spike, nxt = date(2025, 6, 2), date(2025, 6, 3)
    provider = Corrupting(scale={("IEFA", spike): 20.0},
                          set_to={("VO", date(2025, 6, 4)): -1.0, ("XLV", date(2025, 6, 5)): np.nan})
    result = batch_helpers.ingest_prices(db.engine, settings, [pid], AS_OF, provider=provider)
    got = {(r.symbol, r.price_date): r.reason for r in result.rejected}
    assert got == {("IEFA", spike): "one-day move beyond x10 from "
                   + f"{_close(db, 'IEFA', calendar.previous_session(spike)):g}",
                   ("VO", date(2025, 6, 4)): "non-positive or missing price",
                   ("XLV", date(2025, 6, 5)): "non-positive or missing price"}
    stats = json.loads(json.dumps(result.as_stats(), allow_nan=False))["rejected"]
    assert next(r for r in stats if r["symbol"] == "XLV")["close"] is None
    assert {(r["symbol"], r["price_date"]) for r in stats} == {
        ("IEFA", "2025-06-02"), ("VO", "2025-06-04"), ("XLV", "2025-06-05")}
    assert _close(db, "IEFA", spike) is None and _close(db, "VO", date(2025, 6, 4)) is None
    assert _close(db, "XLV", date(2025, 6, 5)) is None
    # the same provider's uncorrupted price (it is anchored at the portfolio's entries)
    clean = SyntheticProvider.fetch(provider, ["IEFA"], nxt, nxt).prices["close"].iloc[0]
    assert _close(db, "IEFA", nxt) == clean  # the normal day after the spike is kept
    assert result.rows_stored == db.scalar("select count(*) from raw.prices")


def _close(db, symbol: str, day: date) -> float | None:
    return db.scalar("select close from raw.prices where symbol = :s and price_date = :d",
                     s=symbol, d=day)


# ---------------------------------------------------------------- 6. corrections restate


def test_corrected_close_restates_the_portfolio(db, settings) -> None:
    pid = _onboard(db)
    as_of = date(2025, 3, 31)
    batch_helpers.run_batch(db.engine, settings, db.url, as_of=as_of, provider=SyntheticProvider())
    old = date(2025, 2, 3)
    before = db.rows("select price from marts.fct_position_values where portfolio_id = :p "
                     "and symbol = 'IEFA' and snapshot_date = :d", p=pid, d=old)[0]["price"]
    betas = {r["symbol"]: r for r in db.rows(
        "select symbol, count(*) as n, min(as_of_date) as lo, max(as_of_date) as hi "
        "from raw.symbol_factor_betas where symbol in ('IEFA', 'VO') group by symbol")}
    assert betas["IEFA"]["lo"] == ENTRY and betas["IEFA"]["hi"] == as_of

    corrected = Corrupting(scale={("IEFA", old): 1.03})  # a 3 % correction of one old close
    nothing = Counting(corrected)
    batch_helpers.ingest_prices(db.engine, settings, [pid], as_of, provider=nothing)
    assert nothing.calls == []  # a covered date is not re-asked by itself ...
    with db.engine.begin() as conn:
        assert refetch_from(conn, ["IEFA"], old) == 1  # ... until coverage is forgotten
    result = batch_helpers.ingest_prices(db.engine, settings, [pid], as_of, provider=corrected)
    assert result.provider_requests == 1 and result.rows_stored == 1  # only the changed row
    assert result.restated_portfolios == 1
    assert db.rows("select portfolio_id, from_date from raw.restatements") == [
        {"portfolio_id": pid, "from_date": old}]
    # IEFA's betas whose window holds the corrected return are gone, the rest stay
    assert db.scalar("select max(as_of_date) from raw.symbol_factor_betas "
                     "where symbol = 'IEFA'") == calendar.previous_session(old)
    assert db.scalar("select count(*) from raw.symbol_factor_betas where symbol = 'VO'") == (
        betas["VO"]["n"])

    summary = batch_helpers.run_batch(db.engine, settings, db.url, as_of=as_of, provider=corrected)
    assert summary.status != "failed", summary.error
    assert db.scalar("select count(*) from raw.symbol_factor_betas where symbol = 'IEFA'") == (
        betas["IEFA"]["n"])  # recomputed
    after = db.rows("select price, price_source from marts.fct_position_values "
                    "where portfolio_id = :p and symbol = 'IEFA' and snapshot_date = :d",
                    p=pid, d=old)[0]
    assert after == {"price": pytest.approx(before * 1.03, rel=1e-12), "price_source": "close"}
    assert db.scalar("select count(*) from raw.restatements") == 0  # consumed by the build


def test_restatement_marks_are_bounded_to_what_a_change_can_reach(db, settings) -> None:
    """Back-filling old history does not restate (or drop betas of) everything."""
    pid = _onboard(db)
    batch_helpers.ingest_prices(db.engine, settings, [pid], AS_OF, provider=SyntheticProvider())
    with db.engine.begin() as conn:  # a computed history, without paying for a dbt build
        conn.exec_driver_sql("create schema if not exists marts")
        conn.exec_driver_sql("create table marts.fct_portfolio_snapshots as select "
                             f"{pid}::bigint as portfolio_id, date '2025-12-31' as snapshot_date")
        conn.exec_driver_sql(
            "insert into raw.symbol_factor_betas (symbol, as_of_date, factor, beta, n_obs) values "
            "('VO', '2023-06-01', 'market_beta', 1, 90), ('VO', '2025-06-02', 'market_beta', 1, 90)")
        old = pd.DataFrame({"symbol": ["SPY", "VO"], "price_date": [date(2022, 3, 1)] * 2,
                            "close": [400.0, 200.0], "adj_close": [400.0, 200.0],
                            "source": "test"})
        far = write_prices(conn, old)
        assert far.rows == 2 and far.restated_portfolios == 0
        near = write_prices(conn, old.assign(price_date=date(2025, 6, 2), close=[401.0, 201.0]))
        assert near.restated_portfolios == 1
    assert db.rows("select from_date from raw.restatements") == [{"from_date": date(2025, 6, 2)}]
    # SPY (a factor ETF) in 2022 reached no stored beta; in 2025 it dropped VO's
    assert [r["as_of_date"] for r in db.rows("select as_of_date from raw.symbol_factor_betas")] == [
        date(2023, 6, 1)]


def test_sanity_filter_exempts_options_from_the_move_check() -> None:
    prices = pd.concat([_frame("IWM250620C00220000", [1.46, 0.01, 0.02]),
                        _frame("IWM250620P00220000", [1.0, -0.5, 1.2])], ignore_index=True)
    kept, rejected = sanity_filter(prices, {}, max_move=10)
    assert kept["close"].tolist() == [1.46, 0.01, 0.02, 1.0, 1.2]
    assert [(r.symbol, r.close) for r in rejected] == [("IWM250620P00220000", -0.5)]
