"""yahooquery provider on recorded Yahoo answers (tests/recorded/http/yahooquery.json).

The real yahooquery package parses the answers: only the HTTP layer is replayed.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from ingest.providers import PRICE_COLUMNS, ProviderError
from ingest.providers.yahooquery_provider import YahooQueryProvider
from tests.provider_cassettes import FakeClock, Replay, cassette

NY = ZoneInfo("America/New_York")
START, END = date(2025, 1, 6), date(2025, 1, 10)
CRUMB = "/v1/test/getcrumb"


def chart(symbol: str) -> str:
    return f"/v8/finance/chart/{symbol}"


def expected(name: str, drop_live: bool = False) -> dict[tuple[str, date], tuple[float, float]]:
    """(symbol, New York date of the bar's open) -> (close, adjclose) from the cassette."""
    res = cassette("yahooquery")[name]["response"]["json"]["chart"]["result"][0]
    quote, adj = res["indicators"]["quote"][0], res["indicators"]["adjclose"][0]["adjclose"]
    stamps = res["timestamp"]
    if drop_live and stamps[-1] >= res["meta"]["regularMarketTime"]:
        stamps = stamps[:-1]
    sym = res["meta"]["symbol"]
    return {(sym, datetime.fromtimestamp(t, NY).date()): (quote["close"][i], adj[i])
            for i, t in enumerate(stamps)}


def rows(result) -> dict[tuple[str, date], tuple[float, float]]:
    p = result.prices
    return {(s, d): (c, a) for s, d, c, a in
            zip(p["symbol"], p["price_date"], p["close"], p["adj_close"], strict=True)}


def make(replay: Replay, clock: FakeClock, **kw) -> YahooQueryProvider:
    kw.setdefault("requests_per_minute", 0)
    return YahooQueryProvider(client=replay.client(), clock=clock, sleep=clock.sleep, **kw)


def test_normal_batch_one_crumb_one_chart_request_per_symbol() -> None:
    clock = FakeClock()
    replay = Replay("yahooquery", clock=clock)
    p = make(replay, clock)
    r = p.fetch(["AAPL", "MSFT", "NVDA"], START, END)
    assert list(r.prices.columns) == PRICE_COLUMNS
    assert rows(r) == {**expected("chart_AAPL"), **expected("chart_MSFT"),
                       **expected("chart_NVDA")}
    assert len(r.prices) == 12 and r.missing == {}
    assert replay.paths() == [CRUMB, chart("AAPL"), chart("MSFT"), chart("NVDA")]
    assert r.requests == 4 and r.sources == dict.fromkeys(["AAPL", "MSFT", "NVDA"], "yahooquery")
    # the whole range asked: period2 is past the last session's bar
    params = replay.requests[1].url.params
    assert int(params["period2"]) > datetime(2025, 1, 10, 9, 30, tzinfo=NY).timestamp()
    assert params["crumb"] == "Xy1Q9crumb"
    again = p.fetch(["AAPL"], START, END)  # same Ticker, no second crumb
    assert replay.paths()[-1] == chart("AAPL") and replay.paths().count(CRUMB) == 1
    assert again.requests == 1


def test_partial_empty_and_still_trading_answers() -> None:
    clock = FakeClock()
    r = make(Replay("yahooquery", clock=clock), clock).fetch(["SPY", "QQQ", "XOM", "ZZZZ"],
                                                             START, END)
    assert rows(r) == {**expected("chart_SPY_partial"), **expected("chart_QQQ_live", True)}
    qqq = r.prices[r.prices["symbol"] == "QQQ"]["price_date"].tolist()
    assert qqq == [date(2025, 1, 6), date(2025, 1, 7), date(2025, 1, 8)]  # live bar dropped
    assert r.missing == {"XOM": "no data from yahooquery", "ZZZZ": "no data from yahooquery"}


def test_429_with_retry_after_then_success() -> None:
    clock = FakeClock()
    replay = Replay("yahooquery", script={chart("AAPL"): ["error_429"]}, clock=clock)
    p = make(replay, clock)
    r = p.fetch(["AAPL"], START, END)
    assert rows(r) == expected("chart_AAPL")
    assert replay.paths() == [CRUMB, chart("AAPL"), chart("AAPL")]
    assert clock.sleeps[0] >= 15 and replay.times[2] - replay.times[1] >= 15
    assert (p.stats.rate_limited, p.stats.retries, p.stats.throttled_waits) == (1, 1, 1)


@pytest.mark.parametrize("answer", ["error_401", "error_403"])
def test_401_403_skip_for_the_run_with_one_warning(answer: str,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    replay = Replay("yahooquery", script={chart("AAPL"): [answer]}, clock=clock)
    p = make(replay, clock)
    with caplog.at_level(logging.WARNING):
        with pytest.raises(ProviderError) as err:
            p.fetch(["AAPL", "MSFT"], START, END)
        with pytest.raises(ProviderError):
            p.fetch(["MSFT"], START, END)
    assert ("Invalid Crumb" if answer == "error_401" else "403 Forbidden") in err.value.reason
    assert err.value.symbols == ["AAPL", "MSFT"]
    assert replay.paths() == [CRUMB, chart("AAPL")]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "yahooquery is skipped" in warnings[0].getMessage()


def test_a_refused_crumb_is_not_an_auth_error() -> None:
    clock = FakeClock()
    replay = Replay("yahooquery", script={CRUMB: ["error_401"]}, clock=clock)
    r = make(replay, clock).fetch(["AAPL"], START, END)
    assert rows(r) == expected("chart_AAPL")


def test_timeout_retried_then_persistent_timeout_fails_wholesale() -> None:
    clock = FakeClock()
    replay = Replay("yahooquery", script={chart("MSFT"): [httpx.ReadTimeout("timed out")]},
                    clock=clock)
    p = make(replay, clock)
    assert rows(p.fetch(["MSFT"], START, END)) == expected("chart_MSFT")
    assert p.stats.retries == 1

    replay = Replay("yahooquery", script={chart("AAPL"): [httpx.ReadTimeout("t")] * 10},
                    clock=clock)
    p = make(replay, clock, max_attempts=2)
    with pytest.raises(ProviderError) as err:
        p.fetch(["AAPL", "MSFT"], START, END)
    assert err.value.symbols == ["AAPL", "MSFT"] and "gave up after 2 attempt(s)" in str(err.value)


def test_profiles_from_asset_profile_and_quote_type() -> None:
    clock = FakeClock()
    replay = Replay("yahooquery", clock=clock)
    res = make(replay, clock).fetch_profiles(["AAPL", "XOM", "SPY", "ODD", "ZZZZ"])
    got = {s: (p.name, p.sector, p.industry, p.is_etf) for s, p in res.profiles.items()}
    assert got == {
        "AAPL": ("Apple Inc.", "Information Technology", "Consumer Electronics", False),
        "XOM": ("Exxon Mobil Corporation", "Energy", "Oil & Gas Integrated", False),  # shortName
        "SPY": ("SPDR S&P 500 ETF Trust", None, None, True),
    }
    assert {p.source for p in res.profiles.values()} == {"yahooquery"}
    assert set(res.missing) == {"ODD", "ZZZZ"} and "'Conglomerates'" in res.missing["ODD"]
    summary = [r for r in replay.requests if "quoteSummary" in r.url.path]
    assert len(summary) == 5
    assert all(r.url.params["modules"] == "assetProfile,quoteType" for r in summary)
