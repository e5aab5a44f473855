"""The real provider chain on recorded answers: fallback order, sources, unavailable
reasons, stats, profiles in priority order, and the registry's real default chain."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pandas as pd
import pytest
from tenacity import wait_none

from ingest.providers import (
    ProviderChain,
    ProviderError,
    SyntheticProvider,
    YFinanceProvider,
    profiles_from,
    provider_from_spec,
    provider_stats,
    real_chain_spec,
    served_summary,
)
from ingest.providers.fmp_provider import FmpProvider
from ingest.providers.polygon_provider import PolygonProvider
from ingest.providers.yahooquery_provider import YahooQueryProvider
from tests.provider_cassettes import FakeClock, Replay, cassette

NY = ZoneInfo("America/New_York")
START, END = date(2025, 1, 6), date(2025, 1, 10)
SYMBOLS = ["AAPL", "MSFT", "NVDA", "SPY", "XOM", "ZZZZ"]
INFO = json.loads((Path(__file__).parent / "recorded" / "yfinance_info.json").read_text())["info"]


def _down(**_: object) -> pd.DataFrame:
    raise ConnectionError("Yahoo unreachable")


def _info_down(_: str) -> dict:
    raise ConnectionError("Yahoo unreachable")


def real_chain(clock: FakeClock, *, yq_script: dict | None = None, pg_script: dict | None = None,
               fmp_script: dict | None = None, yf_info=_info_down) -> tuple[ProviderChain, dict]:
    replays = {"yahooquery": Replay("yahooquery", script=yq_script, clock=clock),
               "polygon": Replay("polygon", script=pg_script, clock=clock),
               "fmp": Replay("fmp", script=fmp_script, clock=clock)}
    common = {"clock": clock, "sleep": clock.sleep, "requests_per_minute": 0}
    chain = ProviderChain([
        YFinanceProvider(downloader=_down, wait=wait_none(), max_attempts=2, info_getter=yf_info),
        YahooQueryProvider(client=replays["yahooquery"].client(), **common),
        PolygonProvider("pk", client=replays["polygon"].client(), grouped=False, **common),
        FmpProvider("fk", client=replays["fmp"].client(), **common),
    ])
    return chain, replays


def test_issue_chain_yfinance_down_yahooquery_half_polygon_rest_but_one() -> None:
    clock = FakeClock()
    # yahooquery has AAPL, MSFT, NVDA; Yahoo knows nothing of SPY in this scenario
    chain, replays = real_chain(clock, yq_script={"/v8/finance/chart/SPY": ["chart_ZZZZ_404"]})
    r = chain.fetch(SYMBOLS, START, END)

    assert r.sources == {"AAPL": "yahooquery", "MSFT": "yahooquery", "NVDA": "yahooquery",
                         "SPY": "polygon", "XOM": "polygon"}
    # every row is the answering provider's own number (read straight from its cassette)
    yq, pg = cassette("yahooquery"), cassette("polygon")
    want = {}
    for s in ("AAPL", "MSFT", "NVDA"):
        res = yq[f"chart_{s}"]["response"]["json"]["chart"]["result"][0]
        for i, t in enumerate(res["timestamp"]):
            want[(s, datetime.fromtimestamp(t, NY).date())] = res["indicators"]["quote"][0][
                "close"][i]
    for name in ("aggs_SPY_partial", "aggs_XOM"):
        body = pg[name]["response"]["json"]
        for b in body["results"]:
            want[(body["ticker"], datetime.fromtimestamp(b["t"] / 1000, NY).date())] = b["c"]
    p = r.prices
    assert dict(zip(zip(p["symbol"], p["price_date"], strict=True), p["close"],
                    strict=True)) == want
    assert set(r.missing) == {"ZZZZ"}
    reason = r.missing["ZZZZ"].split("; ")
    assert [x.split(":")[0] for x in reason] == ["yfinance", "yahooquery", "polygon", "fmp"]
    assert "gave up after 2 attempt(s): ConnectionError: Yahoo unreachable" in reason[0]
    assert reason[1:] == ["yahooquery: no data from yahooquery", "polygon: no data from polygon",
                          "fmp: no data from fmp"]

    # each provider was asked only for what the earlier ones did not return
    assert [q.url.path.rsplit("/", 1)[-1] for q in replays["yahooquery"].requests][1:] == [
        "AAPL", "MSFT", "NVDA", "SPY", "XOM", "ZZZZ"]
    assert [q.url.path.split("/")[4] for q in replays["polygon"].requests] == [
        "SPY", "XOM", "ZZZZ"]
    assert [q.url.params["symbol"] for q in replays["fmp"].requests] == ["ZZZZ"]

    stats = chain.stats()
    assert list(stats) == ["yfinance", "yahooquery", "polygon", "fmp"]
    served = {name: sum(1 for v in r.sources.values() if v == name) for name in stats}
    assert {n: s["symbols_served"] for n, s in stats.items()} == served
    assert stats["yfinance"]["failures"] == 1 and stats["yfinance"]["requests"] == 2
    assert stats["fmp"]["symbols_missing"] == 1
    assert r.requests == sum(s["requests"] for s in stats.values())
    assert provider_stats(chain) == stats
    assert served_summary(stats) == ("yfinance 0 (1 failed call(s)), yahooquery 3, polygon 2, "
                                     "fmp 0")

    # a second run of the same scope: the price store asks for nothing -> nobody is asked
    before = {n: len(rep.requests) for n, rep in replays.items()}
    again = chain.fetch([], START, END)
    assert again.requests == 0 and again.prices.empty and again.missing == {}
    assert {n: len(rep.requests) for n, rep in replays.items()} == before
    assert chain.stats()["yahooquery"]["requests"] == stats["yahooquery"]["requests"]


def test_symbols_only_failed_providers_spoke_about_raise_instead_of_unavailable() -> None:
    clock = FakeClock()
    chain, _ = real_chain(clock, yq_script={"*": ["crumb", "error_401"]},
                          pg_script={"*": ["error_401"]}, fmp_script={"*": ["error_403"]})
    with pytest.raises(ProviderError) as err:
        chain.fetch(["AAPL", "ZZZZ"], START, END)
    assert err.value.symbols == ["AAPL", "ZZZZ"]
    stats = chain.stats()
    assert all(stats[n]["skipped"] for n in ("yahooquery", "polygon", "fmp"))


def test_profiles_in_priority_order_with_gics_mapping_and_reasons() -> None:
    clock = FakeClock()
    chain, replays = real_chain(
        clock, yf_info=lambda t: INFO.get(t, {}),
        yq_script={"/v10/finance/quoteSummary/JNJ": ["summary_ZZZZ_404"]},
        pg_script={"/v3/reference/tickers/JNJ": ["details_ZZZZ_404"]})
    res = chain.fetch_profiles(["AAPL", "SPY", "AMZN", "XOM", "JNJ", "ODD", "ZZZZ"])
    got = {s: (p.source, p.sector, p.is_etf) for s, p in res.profiles.items()}
    assert got == {
        "AAPL": ("yfinance", "Information Technology", False),
        "SPY": ("yfinance", None, True),
        "AMZN": ("yfinance", "Consumer Discretionary", False),
        "XOM": ("yahooquery", "Energy", False),       # yfinance had no profile
        "JNJ": ("fmp", "Health Care", False),         # only FMP knows it
        "ODD": ("polygon", None, False),              # sector rejected twice: Polygon's partial
    }
    assert res.profiles["ODD"].industry == "SERVICES-MANAGEMENT CONSULTING SERVICES"
    assert set(res.missing) == {"ZZZZ"}
    assert [x.split(":")[0] for x in res.missing["ZZZZ"].split("; ")] == [
        "yfinance", "yahooquery", "polygon", "fmp"]
    # later providers were asked only for what was still open
    assert [q.url.path.rsplit("/", 1)[-1] for q in replays["yahooquery"].requests][1:] == [
        "XOM", "JNJ", "ODD", "ZZZZ"]
    assert [q.url.params["symbol"] for q in replays["fmp"].requests] == ["JNJ", "ODD", "ZZZZ"]


def test_profile_failures_never_raise_out_of_the_chain() -> None:
    clock = FakeClock()
    chain, _ = real_chain(clock, yq_script={"*": ["crumb", "error_401"]},
                          pg_script={"*": ["error_403"]}, fmp_script={"*": ["error_401"]})
    res = chain.fetch_profiles(["AAPL", "SPY"])
    assert res.profiles == {} and set(res.missing) == {"AAPL", "SPY"}
    assert "skipped for this run" in res.missing["AAPL"]
    assert ProviderChain([SyntheticProvider()]).fetch_profiles(["AAPL"]).missing == {
        "AAPL": "no provider supplies profiles"}
    assert profiles_from(SyntheticProvider(), ["AAPL"]).missing == {
        "AAPL": "synthetic supplies no profiles"}
    p = PolygonProvider("k", client=Replay("polygon", script={"*": ["error_401"]}).client(),
                        requests_per_minute=0)
    res = profiles_from(p, ["AAPL"])  # a single provider's auth failure: a reason, no raise
    assert res.profiles == {} and "skipped for this run: HTTP 401" in res.missing["AAPL"]
    assert profiles_from(chain, ["SPY"]).missing["SPY"].startswith("yfinance: ")


# ---------------------------------------------------------------- registry


def test_real_chain_spec_adds_keyed_providers_when_their_keys_are_set() -> None:
    assert real_chain_spec({}) == "yfinance,yahooquery"
    assert real_chain_spec({"POLYGON_API_KEY": "k"}) == "yfinance,yahooquery,polygon"
    assert real_chain_spec({"FMP_API_KEY": "k", "POLYGON_API_KEY": " "}) == \
        "yfinance,yahooquery,fmp"
    both = {"POLYGON_API_KEY": "k1", "FMP_API_KEY": "k2"}
    assert real_chain_spec(both) == "yfinance,yahooquery,polygon,fmp"
    chain = provider_from_spec("real", both)
    assert isinstance(chain, ProviderChain)
    assert [type(p) for p in chain.providers] == [YFinanceProvider, YahooQueryProvider,
                                                  PolygonProvider, FmpProvider]
    assert "k1" not in chain.name and "k2" not in chain.name


def test_registry_options_and_env_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"POLYGON_API_KEY": "k"}
    p = provider_from_spec("polygon:requests_per_minute=2;grouped=no;max_attempts=3", env)
    assert isinstance(p, PolygonProvider) and p.http.budget.requests == 2
    assert p.grouped is False and p.http.max_attempts == 3
    assert provider_from_spec("polygon", env).http.budget.requests == 5  # free tier default
    monkeypatch.setenv("SNAPFOLIO_POLYGON_REQUESTS_PER_MINUTE", "7")
    assert provider_from_spec("polygon", env).http.budget.requests == 7
    monkeypatch.setenv("SNAPFOLIO_POLYGON_REQUESTS_PER_MINUTE", "0")
    assert provider_from_spec("polygon", env).http.budget is None
    monkeypatch.setenv("SNAPFOLIO_YAHOOQUERY_REQUESTS_PER_MINUTE", "lots")
    with pytest.raises(ValueError, match="SNAPFOLIO_YAHOOQUERY_REQUESTS_PER_MINUTE"):
        provider_from_spec("yahooquery", {})


@pytest.mark.parametrize(("spec", "needle"), [
    ("polygon", "POLYGON_API_KEY"), ("fmp", "FMP_API_KEY"),
    ("yahooquery:chunk_size=3", "unknown option"), ("polygon:grouped=maybe", "bad value"),
])
def test_registry_rejects_bad_keyed_specs_with_one_line(spec: str, needle: str) -> None:
    with pytest.raises(ValueError) as err:
        provider_from_spec(spec, {"POLYGON_API_KEY": "k"} if "grouped" in spec else {})
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_a_provider_down_part_way_hands_the_rest_to_the_next_one() -> None:
    clock = FakeClock()
    yq = Replay("yahooquery", script={"/v8/finance/chart/MSFT": [httpx.ReadTimeout("t")] * 9},
                clock=clock)
    pg = Replay("polygon", clock=clock)
    common = {"clock": clock, "sleep": clock.sleep, "requests_per_minute": 0, "max_attempts": 2}
    chain = ProviderChain([YahooQueryProvider(client=yq.client(), **common),
                           PolygonProvider("pk", client=pg.client(), grouped=False, **common)])
    r = chain.fetch(["AAPL", "MSFT", "XOM"], START, END)
    assert r.sources == {"AAPL": "yahooquery", "MSFT": "polygon", "XOM": "polygon"}
    assert r.missing == {}
    assert [q.url.path.split("/")[4] for q in pg.requests] == ["MSFT", "MSFT", "XOM"]  # 2 pages
    assert "/v8/finance/chart/XOM" not in yq.paths()  # yahooquery stopped once it gave up
