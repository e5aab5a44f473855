"""Financial Modeling Prep provider on recorded answers (tests/recorded/http/fmp.json)."""

from __future__ import annotations

import logging
import math
from datetime import date

import httpx
import pytest

from ingest.providers import PRICE_COLUMNS, ProviderError
from ingest.providers.fmp_provider import FmpProvider
from tests.provider_cassettes import FakeClock, Replay, cassette

START, END = date(2025, 1, 6), date(2025, 1, 10)
FULL = "/stable/historical-price-eod/full"
ADJ = "/stable/historical-price-eod/dividend-adjusted"


def expected(full: str, adj: str | None) -> dict[tuple[str, date], tuple[float, float]]:
    """(symbol, date) -> (close, adjClose or NaN), joined by date from the cassette."""
    c = cassette("fmp")
    adjusted = {}
    if adj:
        for row in c[adj]["response"]["json"]:
            adjusted[row["date"]] = row["adjClose"]
    out = {}
    for row in c[full]["response"]["json"]:
        out[(row["symbol"], date.fromisoformat(row["date"]))] = (
            row["close"], adjusted.get(row["date"], math.nan))
    return out


def rows(result) -> dict[tuple[str, date], tuple[float, float]]:
    p = result.prices
    return {(s, d): (c, a) for s, d, c, a in
            zip(p["symbol"], p["price_date"], p["close"], p["adj_close"], strict=True)}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        x == y or (math.isnan(x) and math.isnan(y)) for k in a for x, y in zip(a[k], b[k],
                                                                                strict=True))


def make(replay: Replay, clock: FakeClock, **kw) -> FmpProvider:
    kw.setdefault("requests_per_minute", 0)
    return FmpProvider("fmp-secret", client=replay.client(), clock=clock, sleep=clock.sleep, **kw)


def test_normal_batch_maps_close_and_adj_close() -> None:
    clock = FakeClock()
    replay = Replay("fmp", clock=clock)
    p = make(replay, clock)
    r = p.fetch(["AAPL", "MSFT"], START, END)
    assert list(r.prices.columns) == PRICE_COLUMNS
    want = {**expected("full_AAPL", "adj_AAPL"), **expected("full_MSFT", "adj_MSFT_partial")}
    assert same(rows(r), want) and len(want) == 8
    assert math.isnan(rows(r)[("MSFT", date(2025, 1, 6))][1])  # not in the adjusted series
    assert r.prices["price_date"].tolist()[:4] == sorted(r.prices["price_date"].tolist()[:4])
    assert replay.paths() == [FULL, ADJ, FULL, ADJ] and r.requests == 4
    for req in replay.requests:
        assert req.url.params["apikey"] == "fmp-secret"
        assert (req.url.params["from"], req.url.params["to"]) == ("2025-01-06", "2025-01-10")
    assert r.sources == {"AAPL": "fmp", "MSFT": "fmp"} and p.stats.as_dict()["symbols_served"] == 2


def test_partial_empty_and_plan_limited_symbols() -> None:
    clock = FakeClock()
    replay = Replay("fmp", clock=clock)
    r = make(replay, clock).fetch(["SPY", "ZZZZ", "PREM"], START, END)
    assert same(rows(r), expected("full_SPY_partial", "adj_SPY")) and len(r.prices) == 2
    assert r.missing["ZZZZ"] == "no data from fmp"
    assert r.missing["PREM"].startswith("no data from fmp (HTTP 402 ")
    assert set(r.missing) == {"ZZZZ", "PREM"}
    # no dividend-adjusted request for a symbol that had no rows
    assert replay.paths() == [FULL, ADJ, FULL, FULL]


def test_429_with_retry_after_then_success() -> None:
    clock = FakeClock()
    replay = Replay("fmp", script={FULL: ["error_429"]}, clock=clock)
    p = make(replay, clock)
    r = p.fetch(["AAPL"], START, END)
    assert same(rows(r), expected("full_AAPL", "adj_AAPL"))
    assert clock.sleeps[0] >= 20 and replay.times[1] - replay.times[0] >= 20
    assert (p.stats.rate_limited, p.stats.retries, p.stats.requests) == (1, 1, 3)


@pytest.mark.parametrize("answer", ["error_401", "error_403", "error_401_in_200"])
def test_auth_error_skips_for_the_run_with_one_warning(
        answer: str, caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    replay = Replay("fmp", script={"*": [answer]}, clock=clock)
    p = make(replay, clock)
    with caplog.at_level(logging.WARNING):
        for symbols in (["AAPL", "MSFT"], ["SPY"]):
            with pytest.raises(ProviderError) as err:
                p.fetch(symbols, START, END)
            assert "skipped for this run" in err.value.reason
    assert len(replay.requests) == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "fmp is skipped for the rest of this run" in warnings[0]
    assert all("fmp-secret" not in w for w in warnings)
    assert p.stats.skipped.startswith("HTTP 40")


def test_timeout_is_retried_and_a_persistent_one_fails_wholesale() -> None:
    clock = FakeClock()
    replay = Replay("fmp", script={FULL: [httpx.ReadTimeout("timed out")]}, clock=clock)
    p = make(replay, clock)
    assert same(rows(p.fetch(["AAPL"], START, END)), expected("full_AAPL", "adj_AAPL"))
    assert p.stats.retries == 1

    replay = Replay("fmp", script={FULL: [httpx.ReadTimeout("timed out")] * 10}, clock=clock)
    p = make(replay, clock, max_attempts=3)
    with pytest.raises(ProviderError) as err:
        p.fetch(["AAPL", "MSFT"], START, END)
    assert err.value.symbols == ["AAPL", "MSFT"] and "gave up after 3 attempt(s)" in str(err.value)


def test_profiles_map_sectors_to_gics_and_reject_unknown_names() -> None:
    clock = FakeClock()
    res = make(Replay("fmp", clock=clock), clock).fetch_profiles(
        ["AAPL", "JNJ", "SPY", "ODD", "ZZZZ"])
    got = {s: (p.name, p.sector, p.industry, p.is_etf) for s, p in res.profiles.items()}
    assert got == {
        "AAPL": ("Apple Inc.", "Information Technology", "Consumer Electronics", False),
        "JNJ": ("Johnson & Johnson", "Health Care", "Drug Manufacturers - General", False),
        "SPY": ("SPDR S&P 500 ETF Trust", "Financials", "Asset Management", True),
    }
    assert all(p.source == "fmp" for p in res.profiles.values())
    assert set(res.missing) == {"ODD", "ZZZZ"}
    assert "rejected" in res.missing["ODD"] and "'Conglomerates'" in res.missing["ODD"]
    assert "no company profile" in res.missing["ZZZZ"]


def test_key_is_masked_in_httpx_request_logs(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    with caplog.at_level(logging.INFO, logger="httpx"):
        make(Replay("fmp", clock=clock), clock).fetch(["ZZZZ"], START, END)
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert lines and all("fmp-secret" not in line for line in lines)
    assert any("apikey=***" in line for line in lines)
