"""GICS sector mapping (DESIGN "Sectors") and yfinance `Ticker.info` profiles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tenacity import wait_none

from ingest.providers import GICS_SECTORS, UnknownSectorError, YFinanceProvider, gics_sector
from ingest.providers.profiles import make_profile

INFO = json.loads((Path(__file__).parent / "recorded" / "yfinance_info.json").read_text())["info"]

# DESIGN.md, "Sectors", verbatim
DESIGN_GICS = ["Communication Services", "Consumer Discretionary", "Consumer Staples", "Energy",
               "Financials", "Health Care", "Industrials", "Information Technology",
               "Materials", "Real Estate", "Utilities"]
DESIGN_ALIASES = {"Technology": "Information Technology", "Healthcare": "Health Care",
                  "Financial Services": "Financials", "Consumer Cyclical": "Consumer Discretionary",
                  "Consumer Defensive": "Consumer Staples", "Basic Materials": "Materials"}


def test_the_eleven_gics_names_pass_and_the_yahoo_names_map() -> None:
    assert sorted(GICS_SECTORS) == sorted(DESIGN_GICS) and len(GICS_SECTORS) == 11
    for name in DESIGN_GICS:
        assert gics_sector(name) == name
    for alias, gics in DESIGN_ALIASES.items():
        assert gics_sector(alias) == gics
    assert gics_sector("  health   care ") == "Health Care"
    assert gics_sector("TECHNOLOGY") == "Information Technology"


@pytest.mark.parametrize("name", ["Conglomerates", "Tech", "Financial", "", "ETF",
                                  "Information-Technology", "Unclassified"])
def test_any_other_name_is_a_named_error(name: str) -> None:
    with pytest.raises(UnknownSectorError) as err:
        gics_sector(name)
    assert err.value.name == name and repr(name) in str(err.value)
    assert isinstance(err.value, ValueError) and "\n" not in str(err.value)


def test_an_etf_profile_drops_an_unknown_sector_but_a_stock_profile_is_rejected() -> None:
    etf = make_profile("XYZ", "t", name="X", sector="Blend", industry=None, is_etf=True)
    assert etf.sector is None and etf.complete
    with pytest.raises(UnknownSectorError):
        make_profile("XYZ", "t", name="X", sector="Blend", industry=None, is_etf=False)
    empty = make_profile("XYZ", "t", name=" ", sector="", industry="", is_etf=False)
    assert (empty.name, empty.sector, empty.industry, empty.complete) == (None, None, None, False)


def test_yfinance_profiles_from_ticker_info() -> None:
    asked: list[str] = []

    def info(ticker: str) -> dict:
        asked.append(ticker)
        return INFO.get(ticker, {})

    p = YFinanceProvider(info_getter=info, wait=wait_none())
    res = p.fetch_profiles(["AAPL", "JPM", "AMZN", "SPY", "ODD", "ZZZZ", "AAPL"])
    got = {s: (x.name, x.sector, x.industry, x.is_etf, x.source) for s, x in res.profiles.items()}
    assert got == {
        "AAPL": ("Apple Inc.", "Information Technology", "Consumer Electronics", False, "yfinance"),
        "JPM": ("JPMorgan Chase & Co.", "Financials", "Banks - Diversified", False, "yfinance"),
        "AMZN": ("Amazon.com, Inc.", "Consumer Discretionary", "Internet Retail", False,
                 "yfinance"),  # no longName: shortName
        "SPY": ("SPDR S&P 500 ETF Trust", None, None, True, "yfinance"),
    }
    assert set(res.missing) == {"ODD", "ZZZZ"}
    assert "rejected" in res.missing["ODD"] and "'Conglomerates'" in res.missing["ODD"]
    assert asked == ["AAPL", "JPM", "AMZN", "SPY", "ODD", "ZZZZ"] and res.requests == 6
    assert p.stats.as_dict()["profiles_served"] == 4


def test_yfinance_profile_retries_transient_errors_and_reports_a_lasting_one() -> None:
    calls = {"AAPL": 0, "MSFT": 0}

    def info(ticker: str) -> dict:
        calls[ticker] += 1
        if ticker == "MSFT" or calls[ticker] == 1:
            raise ConnectionError("reset by peer")
        return INFO["AAPL"]

    p = YFinanceProvider(info_getter=info, wait=wait_none(), max_attempts=3)
    res = p.fetch_profiles(["AAPL", "MSFT"])
    assert res.profiles["AAPL"].sector == "Information Technology"
    assert calls == {"AAPL": 2, "MSFT": 3}
    assert res.missing == {"MSFT": "ConnectionError: reset by peer"}
    assert p.stats.retries == 3 and p.stats.failures == 1
