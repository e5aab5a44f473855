"""Polygon (Massive) provider on recorded answers (tests/recorded/http/polygon.json)."""

from __future__ import annotations

import logging
import math
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest

from ingest.providers import PRICE_COLUMNS, ProviderError
from ingest.providers.polygon_provider import PolygonProvider
from tests.provider_cassettes import FakeClock, Replay, cassette

NY = ZoneInfo("America/New_York")
START, END = date(2025, 1, 6), date(2025, 1, 10)
AAPL = "/v2/aggs/ticker/AAPL/range/1/day/2025-01-06/2025-01-10"
MSFT = "/v2/aggs/ticker/MSFT/range/1/day/2025-01-06/2025-01-10"
XOM = "/v2/aggs/ticker/XOM/range/1/day/2025-01-06/2025-01-10"


def expected(*names: str) -> dict[tuple[str, date], float]:
    """(symbol, New York date) -> c, read from the cassette with the documented meaning of t."""
    c = cassette("polygon")
    out = {}
    for name in names:
        body = c[name]["response"]["json"]
        for b in body.get("results", []):
            sym = b.get("T", body.get("ticker"))
            out[(sym, datetime.fromtimestamp(b["t"] / 1000, NY).date())] = b["c"]
    return out


def rows(result) -> dict[tuple[str, date], float]:
    p = result.prices
    return {(s, d): c for s, d, c in zip(p["symbol"], p["price_date"], p["close"], strict=True)}


def make(replay: Replay, clock: FakeClock, **kw) -> PolygonProvider:
    kw.setdefault("requests_per_minute", 0)
    kw.setdefault("grouped", False)
    return PolygonProvider("test-key", client=replay.client(), clock=clock, sleep=clock.sleep, **kw)


def test_normal_batch_one_request_per_ticker_following_next_url() -> None:
    clock = FakeClock()
    replay = Replay("polygon", clock=clock)
    p = make(replay, clock)
    r = p.fetch(["AAPL", "MSFT"], START, END)
    assert list(r.prices.columns) == PRICE_COLUMNS
    assert rows(r) == expected("aggs_AAPL", "aggs_MSFT_page1", "aggs_MSFT_page2")
    assert sorted({d for _, d in rows(r)}) == [date(2025, 1, 6), date(2025, 1, 7),
                                               date(2025, 1, 8), date(2025, 1, 10)]
    assert r.prices["adj_close"].isna().all()  # Polygon aggregates are not dividend-adjusted
    assert r.sources == {"AAPL": "polygon", "MSFT": "polygon"} and r.missing == {}
    page2 = "/v2/aggs/ticker/MSFT/range/1/day/1736139600000/1736485200000"
    assert replay.paths() == [AAPL, MSFT, page2]
    assert r.requests == 3
    for req in replay.requests:  # the key travels in a header, never in a URL
        assert req.headers["Authorization"] == "Bearer test-key"
        assert "test-key" not in str(req.url)
    assert replay.requests[0].url.params["adjusted"] == "true"
    s = p.stats.as_dict()
    assert (s["requests"], s["symbols_served"], s["retries"], s["failures"]) == (3, 2, 0, 0)


def test_partial_and_empty_answers() -> None:
    clock = FakeClock()
    r = make(Replay("polygon", clock=clock), clock).fetch(["SPY", "ZZZZ", "BADT"], START, END)
    assert rows(r) == expected("aggs_SPY_partial")
    assert len(r.prices) == 2
    assert r.missing["ZZZZ"] == "no data from polygon"
    assert r.missing["BADT"].startswith("no data from polygon (HTTP 400")
    assert "Could not parse the ticker" in r.missing["BADT"]
    assert set(r.missing) == {"ZZZZ", "BADT"} and r.failed == {}


def test_grouped_daily_serves_many_symbols_with_one_request_per_session() -> None:
    clock = FakeClock()
    replay = Replay("polygon", clock=clock)
    day = date(2025, 1, 10)
    r = make(replay, clock, grouped=True).fetch(["AAPL", "MSFT", "XOM", "ZZZZ"], day, day)
    assert replay.paths() == ["/v2/aggs/grouped/locale/us/market/stocks/2025-01-10"]
    want = {k: v for k, v in expected("grouped_2025-01-10").items()
            if k[0] in ("AAPL", "MSFT", "XOM")}
    assert rows(r) == want and len(want) == 3
    assert set(r.missing) == {"ZZZZ"}


def test_429_with_retry_after_then_success() -> None:
    clock = FakeClock()
    replay = Replay("polygon", script={AAPL: ["error_429"]}, clock=clock)
    p = make(replay, clock)
    r = p.fetch(["AAPL"], START, END)
    assert rows(r) == expected("aggs_AAPL")
    assert replay.paths() == [AAPL, AAPL]
    assert clock.sleeps and clock.sleeps[0] >= 30  # Retry-After: 30 honoured
    assert replay.times[1] - replay.times[0] >= 30
    s = p.stats.as_dict()
    assert (s["requests"], s["retries"], s["rate_limited"], s["throttled_waits"]) == (2, 1, 1, 1)
    assert s["throttled_seconds"] >= 30


def test_retry_after_beyond_the_time_bound_gives_up_at_once() -> None:
    clock = FakeClock()
    replay = Replay("polygon", script={AAPL: ["error_429"]}, clock=clock)
    with pytest.raises(ProviderError) as err:
        make(replay, clock, max_total_seconds=10).fetch(["AAPL"], START, END)
    assert "gave up after 1 attempt(s): HTTP 429" in str(err.value)
    assert clock.now == 0 and len(replay.requests) == 1


@pytest.mark.parametrize("status", ["error_401", "error_403"])
def test_auth_error_skips_the_provider_for_the_run_with_one_warning(
        status: str, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    replay = Replay("polygon", script={"*": [status]}, clock=clock)
    p = make(replay, clock)
    with caplog.at_level(logging.WARNING):
        with pytest.raises(ProviderError) as first:
            p.fetch(["AAPL", "MSFT"], START, END)
        with pytest.raises(ProviderError) as second:
            p.fetch(["XOM"], START, END)
        with pytest.raises(ProviderError):
            p.fetch_profiles(["AAPL"])
    assert len(replay.requests) == 1  # nothing asked after the auth error
    assert "skipped for this run" in first.value.reason and "skipped for this run" in \
        second.value.reason
    assert ("Unknown API Key" if status == "error_401" else "not entitled") in first.value.reason
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "polygon is skipped for the rest of this run" in \
        warnings[0].getMessage()
    assert p.stats.as_dict()["skipped"].startswith(f"HTTP {status[-3:]}")


@pytest.mark.parametrize("transient", [httpx.ReadTimeout("timed out"), "error_502"])
def test_timeout_or_5xx_is_retried_then_served(transient: object) -> None:
    clock = FakeClock()
    replay = Replay("polygon", script={AAPL: [transient, transient]}, clock=clock)
    p = make(replay, clock)
    r = p.fetch(["AAPL"], START, END)
    assert rows(r) == expected("aggs_AAPL")
    assert len(replay.requests) == 3 and p.stats.retries == 2 and p.stats.rate_limited == 0
    assert len(clock.sleeps) == 2


def test_persistent_timeout_fails_wholesale_not_as_missing() -> None:
    clock = FakeClock()
    replay = Replay("polygon", script={AAPL: [httpx.ConnectTimeout("timed out")] * 9},
                    clock=clock)
    p = make(replay, clock, max_attempts=4)
    with pytest.raises(ProviderError) as err:
        p.fetch(["AAPL", "MSFT"], START, END)
    assert err.value.symbols == ["AAPL", "MSFT"]
    assert "gave up after 4 attempt(s): ConnectTimeout" in err.value.reason
    assert len(replay.requests) == 4 and p.stats.failures == 1 and p.stats.skipped is None


def test_down_part_way_keeps_what_was_served_and_fails_the_rest() -> None:
    clock = FakeClock()
    replay = Replay("polygon", script={MSFT: [httpx.ReadTimeout("timed out")] * 9}, clock=clock)
    r = make(replay, clock, max_attempts=3).fetch(["AAPL", "MSFT", "XOM"], START, END)
    assert rows(r) == expected("aggs_AAPL")
    assert set(r.failed) == {"MSFT", "XOM"} and r.missing == {}  # XOM never asked
    assert XOM not in replay.paths()


def test_profiles_from_ticker_details() -> None:
    clock = FakeClock()
    res = make(Replay("polygon", clock=clock), clock).fetch_profiles(["AAPL", "SPY", "ZZZZ"])
    aapl, spy = res.profiles["AAPL"], res.profiles["SPY"]
    assert (aapl.name, aapl.industry, aapl.sector, aapl.is_etf, aapl.source) == (
        "Apple Inc.", "ELECTRONIC COMPUTERS", None, False, "polygon")
    assert not aapl.complete  # SIC is not a GICS sector: the chain asks further
    assert spy.is_etf and spy.complete and spy.name == "SPDR S&P 500 ETF Trust"
    assert set(res.missing) == {"ZZZZ"} and "HTTP 404" in res.missing["ZZZZ"]
    assert res.requests == 3


def test_twelve_requests_against_five_per_minute_never_exceed_the_budget() -> None:
    clock = FakeClock()
    replay = Replay("polygon", script={"*": ["aggs_ZZZZ_empty"] * 12}, clock=clock)
    p = make(replay, clock, requests_per_minute=5)
    symbols = [f"T{i:02d}" for i in range(12)]
    r = p.fetch(symbols, START, END)
    assert set(r.missing) == set(symbols) and len(replay.requests) == 12
    times = replay.times
    assert times[-1] - times[0] >= 2 * 60  # at least two full budget windows
    for t in times:  # every rolling minute [t, t + 60) holds at most 5 requests
        assert sum(1 for u in times if t <= u < t + 60) <= 5
    assert p.stats.throttled_waits >= 2
    assert math.isclose(p.stats.throttled_seconds, sum(clock.sleeps))
    assert np.all(np.diff(times) >= 0)


def test_an_option_refused_by_a_stocks_plan_is_no_data_not_a_bad_key() -> None:
    clock = FakeClock()
    occ = "SPY251219C00650000"
    path = f"/v2/aggs/ticker/O:{occ}/range/1/day/2025-01-06/2025-01-10"
    replay = Replay("polygon", script={path: ["error_403"]}, clock=clock)
    p = make(replay, clock)
    r = p.fetch([occ, "AAPL"], START, END)
    assert rows(r) == expected("aggs_AAPL")
    assert "options not in this plan: HTTP 403" in r.missing[occ]
    assert p.stats.skipped is None and replay.paths() == [path, AAPL]


def test_budget_waits_do_not_count_against_the_retry_time_bound() -> None:
    clock = FakeClock()
    replay = Replay("polygon", script={AAPL: ["error_502", "error_502"]}, clock=clock)
    p = make(replay, clock, requests_per_minute=1, max_total_seconds=10)
    r = p.fetch(["AAPL"], START, END)  # two retries, each paced a minute apart by the budget
    assert rows(r) == expected("aggs_AAPL")
    assert len(replay.requests) == 3 and replay.times[2] >= 120
    assert p.stats.retries == 2 and p.stats.throttled_waits == 2
