"""Sector sourcing (DESIGN "Sectors"): `snapfolio symbols load`, the provider profile
fetch, and the restatement of sector rows a changed profile causes — on a real
database, real dbt, the real yfinance provider on recorded `Ticker.info` answers."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from tenacity import wait_none

from ingest.providers import ProviderChain, SyntheticProvider, YFinanceProvider
from ingest.providers.profiles import SymbolProfile
from ingest.symbol_profiles import (
    SymbolProfileCsvError,
    fetch_missing_profiles,
    load_symbol_profiles,
    parse_symbol_profiles,
)
from tests import batch_helpers

INFO = json.loads((Path(__file__).parent / "recorded" / "yfinance_info.json").read_text())["info"]
SEED = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds" / "symbol_profiles.csv"
NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
OPTION = "TSLA250117P00250000"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def stored(db) -> dict[str, dict]:
    return {r["symbol"]: dict(r) for r in db.rows(
        "select symbol, name, sector, industry, is_etf, source from raw.symbol_profiles")}


class RecordedInfo:
    """`Ticker.info` from the recorded answers, under the symbols the test uses (symbols
    the seed does not know); counts every call (one per symbol asked)."""

    def __init__(self, renames: dict[str, str]) -> None:
        self.renames = renames
        self.calls: list[str] = []

    def __call__(self, symbol: str) -> dict:
        self.calls.append(symbol)
        return dict(INFO.get(self.renames.get(symbol, symbol), {}))


def yfinance(info: RecordedInfo) -> YFinanceProvider:
    return YFinanceProvider(info_getter=info, wait=wait_none(), max_attempts=2)


# ---------------------------------------------------------------- symbols load


def test_symbols_load_manual_rows_win_is_etf_variants_and_yahoo_names(db, tmp_path):
    info = RecordedInfo({"NEWT": "AAPL", "NEWF": "JPM"})
    first = fetch_missing_profiles(db.engine, yfinance(info), ["NEWT", "NEWF"], now=NOW)
    assert first.stored == ["NEWF", "NEWT"] and stored(db)["NEWT"]["source"] == "yfinance"
    path = write(tmp_path, "profiles.csv", (
        "# operator overrides\n"
        "Symbol,Sector,Industry,Name,IS_ETF\n"
        "NEWT,Health  care,Biotech,New T Inc.,no\n"  # over the provider's row
        "tsla,Technology,,,\n"  # over the seed (Consumer Discretionary); Yahoo name mapped
        "QQQX,,,Some Fund,YES\n"  # an ETF may have no sector
        "ETF1,,,,1\n"
        "ETF2,Financial Services,,,True\n"
        "STK0,Consumer Defensive,,,0\n"
        "STKF,basic materials,,,FALSE\n"
        "STKN,Consumer Cyclical,,,No\n"
    ))
    result = load_symbol_profiles(db.engine, path)
    rows = stored(db)
    assert {s: (r["sector"], r["is_etf"], r["source"]) for s, r in rows.items()} == {
        "NEWT": ("Health Care", False, "manual"),
        "NEWF": ("Financials", False, "yfinance"),  # untouched provider row
        "TSLA": ("Information Technology", False, "manual"),
        "QQQX": (None, True, "manual"),
        "ETF1": (None, True, "manual"),
        "ETF2": ("Financials", True, "manual"),
        "STK0": ("Consumer Staples", False, "manual"),
        "STKF": ("Materials", False, "manual"),
        "STKN": ("Consumer Discretionary", False, "manual"),
    }
    assert rows["NEWT"]["industry"] == "Biotech" and rows["NEWT"]["name"] == "New T Inc."
    assert result.rows == 8 and len(result.written) == 8
    # classification changed: NEWT (IT -> Health Care), TSLA (seed CD -> IT), and the
    # new symbols that were Unclassified; not the ones already that class
    assert set(result.reclassified) == {"NEWT", "TSLA", "QQQX", "ETF1", "ETF2", "STK0",
                                        "STKF", "STKN"}
    again = load_symbol_profiles(db.engine, path)  # identical: nothing rewritten or restated
    assert again.written == [] and again.reclassified == []

    # the provider never replaces a manual row: not asked, and the upsert guard holds
    info.calls.clear()
    later = fetch_missing_profiles(db.engine, yfinance(info), ["NEWT", "TSLA"],
                                   now=NOW + timedelta(days=30))
    assert info.calls == [] and later.asked == []
    from ingest import symbol_profiles

    with db.engine.begin() as conn:
        written, changed, _ = symbol_profiles._write_profiles(conn, [SymbolProfile(
            "NEWT", "x", "Energy", None, False, "yfinance")], NOW)
    assert written == [] and changed == []
    assert stored(db)["NEWT"]["sector"] == "Health Care"


def test_bad_profile_file_lists_every_error_and_writes_nothing(db, tmp_path):
    load_symbol_profiles(db.engine, write(tmp_path, "ok.csv", "symbol,sector\nKEEP,Energy\n"))
    path = write(tmp_path, "bad.csv", (
        "symbol,sector,is_etf\n"
        "KEEP,Utilities,\n"  # valid, but must not be written either
        "ODD1,Conglomerates,false\n"  # line 3: not a GICS / Yahoo name
        "NOSEC,,\n"  # line 4: empty sector for a non-ETF
        "BADE,Energy,maybe\n"  # line 5: is_etf
        "ÄPPL,Energy,\n"  # line 6: non-ASCII symbol
        "KEEP,Energy,\n"  # line 7: duplicate of line 2
        "TSLA250117P00250000,Energy,\n"  # line 8: an option has no profile of its own
        "A,B,C,D\n"  # line 9: too many fields
    ))
    with pytest.raises(SymbolProfileCsvError) as exc:
        parse_symbol_profiles(path)
    got = [(i.line, i.column) for i in exc.value.issues]
    assert got == [(3, "sector"), (4, "sector"), (5, "is_etf"), (6, "symbol"), (7, "symbol"),
                   (8, "symbol"), (9, "file")]
    messages = exc.value.report().splitlines()
    assert messages[0].startswith("line 3, column sector: unknown sector 'Conglomerates'")
    assert "required unless is_etf" in messages[1] and "'maybe'" in messages[2]
    assert "invalid character(s) 'Ä'" in messages[3] and "first on line 2" in messages[4]

    proc = subprocess.run([sys.executable, "-m", "snapfolio", "symbols", "load", str(path)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error:") and "Traceback" not in proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.startswith("line ")]
    assert len(lines) == 7 and lines[0].startswith("line 3, column sector:")
    assert stored(db) == {"KEEP": {"symbol": "KEEP", "name": None, "sector": "Energy",
                                   "industry": None, "is_etf": False, "source": "manual"}}

    good = write(tmp_path, "good.csv", "symbol,sector,is_etf\nKEEP,Utilities,\n")
    ok = subprocess.run([sys.executable, "-m", "snapfolio", "symbols", "load", str(good),
                         "--json"], capture_output=True, text=True, timeout=300, check=False)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["reclassified"] == ["KEEP"]
    assert stored(db)["KEEP"]["sector"] == "Utilities"


# ---------------------------------------------------------------- provider fetch


def test_provider_profiles_stored_with_source_cooled_off_and_reported(db, tmp_path):
    load_symbol_profiles(db.engine, write(tmp_path, "m.csv", "symbol,sector\nMANU,Energy\n"))
    info = RecordedInfo({"NEWT": "AAPL", "NEWC": "AMZN", "NEWE": "SPY"})
    scope = ["NEWT", "NEWC", "NEWE", "ODD", "ZZZZ", "TSLA", "MANU", OPTION]
    first = fetch_missing_profiles(db.engine, yfinance(info), scope, now=NOW)
    # asked once each, in one pass: not the seed's TSLA, the manual MANU, the option
    assert sorted(info.calls) == ["NEWC", "NEWE", "NEWT", "ODD", "ZZZZ"]
    assert first.asked == ["NEWC", "NEWE", "NEWT", "ODD", "ZZZZ"]
    rows = stored(db)
    assert {s: (r["sector"], r["is_etf"], r["source"]) for s, r in rows.items()} == {
        "MANU": ("Energy", False, "manual"),
        "NEWT": ("Information Technology", False, "yfinance"),
        "NEWC": ("Consumer Discretionary", False, "yfinance"),
        "NEWE": (None, True, "yfinance"),
    }
    assert rows["NEWT"]["industry"] == "Consumer Electronics"
    assert sorted(first.missing) == ["ODD", "ZZZZ"] == sorted(first.unclassified)
    assert "Conglomerates" in first.missing["ODD"]
    attempts = {r["symbol"]: r for r in db.rows("select * from raw.symbol_profile_attempts")}
    assert sorted(attempts) == ["ODD", "ZZZZ"]
    assert attempts["ODD"]["reason"] == first.missing["ODD"]

    info.calls.clear()  # within the cool-off: nothing asked, still reported Unclassified
    second = fetch_missing_profiles(db.engine, yfinance(info), scope,
                                    now=NOW + timedelta(hours=23), cooloff=timedelta(hours=24))
    assert info.calls == [] and second.asked == [] and second.requests == 0
    assert sorted(second.cooling_off) == ["ODD", "ZZZZ"] == sorted(second.unclassified)
    assert "Conglomerates" in second.unclassified["ODD"]

    info.calls.clear()  # after it: only the two without a profile are asked again
    info.renames["ZZZZ"] = "JPM"  # the provider has a profile for ZZZZ now
    third = fetch_missing_profiles(db.engine, yfinance(info), scope,
                                   now=NOW + timedelta(hours=25), cooloff=timedelta(hours=24))
    assert sorted(info.calls) == ["ODD", "ZZZZ"]
    assert third.stored == ["ZZZZ"] and list(third.unclassified) == ["ODD"]
    assert stored(db)["ZZZZ"]["sector"] == "Financials"
    assert [r["symbol"] for r in db.rows("select symbol from raw.symbol_profile_attempts")] == [
        "ODD"]

    # synthetic (and csv:) supply no profiles: nothing asked, nothing recorded, reported
    synth = fetch_missing_profiles(db.engine, SyntheticProvider(), ["NOPRO", "TSLA", "ODD"],
                                   now=NOW + timedelta(days=3))
    assert synth.asked == [] and synth.unclassified == {
        "NOPRO": "synthetic supplies no profiles", "ODD": "synthetic supplies no profiles"}
    assert db.scalar("select count(*) from raw.symbol_profile_attempts") == 1


def test_prices_phase_fetches_profiles_through_the_chain(db, settings, tmp_path):
    path = write(tmp_path, "p.csv", (
        "Symbol,Quantity,Entry Price Per Share,Entry Date,Investment Class,Investment Subtype,"
        "Underlying Symbol,Strike Price,Expiration Date,Option Type,Exit Date,Exit Price Per Share\n"
        "NEWT,10,100.00,2024-06-03,PUBLIC,STOCK,,,,,,\n"
        ",-1,9.40,2024-06-03,OPTIONS,,NEWC,250.00,2025-01-17,PUT,,\n"
        "ZZZZ,10,20.00,2024-06-03,PUBLIC,STOCK,,,,,,\n"
        "TSLA,10,200.00,2024-06-03,PUBLIC,STOCK,,,,,,\n"
    ))
    pid = batch_helpers.store_file(db.engine, path, "p").portfolio_id
    info = RecordedInfo({"NEWT": "AAPL", "NEWC": "AMZN"})
    chain = ProviderChain([SyntheticProvider(), yfinance(info)])
    result = batch_helpers.ingest_prices(db.engine, settings, [pid], date(2024, 6, 28),
                                         provider=chain)
    profiles = result.as_stats()["profiles"]
    assert sorted(info.calls) == ["NEWC", "NEWT", "ZZZZ"]  # the option's underlying, not it
    assert profiles["stored"] == ["NEWC", "NEWT"] and list(profiles["unclassified"]) == ["ZZZZ"]
    assert "yfinance" in profiles["unclassified"]["ZZZZ"]
    synthetic_only = batch_helpers.ingest_prices(db.engine, settings, [pid], date(2024, 6, 28),
                                                 provider=SyntheticProvider())
    assert synthetic_only.profiles["asked"] == []
    assert list(synthetic_only.profiles["unclassified"]) == ["ZZZZ"]


# ---------------------------------------------------------------- restatement

HOLDER = (
    "Symbol,Quantity,Entry Price Per Share,Entry Date,Investment Class,Investment Subtype,"
    "Underlying Symbol,Strike Price,Expiration Date,Option Type,Exit Date,Exit Price Per Share\n"
    "TSLA,25,250.00,2024-06-03,PUBLIC,STOCK,,,,,,\n"
    "AAPL,-10,190.00,2024-06-03,PUBLIC,STOCK,,,,,,\n"
    "COST,15,720.00,2024-06-03,PUBLIC,STOCK,,,,,2024-08-15,800.00\n"
    ",-2,9.40,2024-07-01,OPTIONS,,TSLA,250.00,2025-01-17,PUT,,\n"
    "SPY,5,530.00,2024-06-03,PUBLIC,ETF,,,,,,\n"
    "NOPRO,100,20.00,2024-06-03,PUBLIC,STOCK,,,,,,\n"
)
OTHER = (
    "Symbol,Quantity,Entry Price Per Share,Entry Date,Investment Class,Investment Subtype,"
    "Underlying Symbol,Strike Price,Expiration Date,Option Type,Exit Date,Exit Price Per Share\n"
    "AAPL,10,190.00,2024-06-03,PUBLIC,STOCK,,,,,,\n"
    "COST,5,720.00,2024-06-03,PUBLIC,STOCK,,,,,,\n"
    "NOPRT,50,30.00,2024-07-01,PUBLIC,STOCK,,,,,,\n"
)
AS_OF = date(2024, 9, 30)


def expected_sectors(db, manual: dict[str, tuple[str | None, bool]]) -> pd.DataFrame:
    """DESIGN's sector rows, from the position values and snapshots and a plain profile
    lookup (manual > seed; ETF, else the sector, else Unclassified)."""
    with SEED.open(encoding="utf-8") as fh:
        profile = {r["symbol"]: (r["sector"] or None, r["is_etf"] == "true")
                   for r in csv.DictReader(fh)}
    profile.update(manual)
    values = db.rows(
        "select v.portfolio_id, v.snapshot_date, v.market_value, p.symbol, "
        "p.underlying_symbol, p.entry_date, p.exit_date "
        "from marts.fct_position_values as v join raw.positions as p using (position_id)")
    equity = {(r["portfolio_id"], r["snapshot_date"]): r["equity"] for r in db.rows(
        "select portfolio_id, snapshot_date, equity from marts.fct_portfolio_snapshots")}
    out: dict[tuple, list[float]] = {}
    for r in values:
        end = r["exit_date"] or date.max  # the option expires after AS_OF
        if not (r["entry_date"] <= r["snapshot_date"] < end):
            continue
        sector, etf = profile.get(r["underlying_symbol"] or r["symbol"], (None, False))
        name = "ETF" if etf else sector or "Unclassified"
        acc = out.setdefault((r["portfolio_id"], r["snapshot_date"], name), [0.0, 0.0])
        acc[0 if r["market_value"] > 0 else 1] += float(r["market_value"])
    rows = []
    for (p, d, s), (long, short) in out.items():
        e = float(equity[(p, d)])
        rows.append({"portfolio_id": p, "snapshot_date": d, "sector": s, "long_value": long,
                     "short_value": short, "gross_exposure": long - short,
                     "net_exposure": long + short,
                     "gross_weight": (long - short) / e if e > 0 else None,
                     "net_weight": (long + short) / e if e > 0 else None})
    return pd.DataFrame(rows).sort_values(["portfolio_id", "snapshot_date", "sector"],
                                          ignore_index=True)


def mart_sectors(db) -> pd.DataFrame:
    return pd.DataFrame(db.rows(
        "select * from marts.fct_portfolio_sector_exposures "
        "order by portfolio_id, snapshot_date, sector"))


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got[["portfolio_id", "snapshot_date", "sector"]].itertuples(index=False)) == list(
        want[["portfolio_id", "snapshot_date", "sector"]].itertuples(index=False))
    for c in ("long_value", "short_value", "gross_exposure", "net_exposure", "gross_weight",
              "net_weight"):
        g, w = got[c].astype(float).to_numpy(), want[c].astype(float).to_numpy()
        assert ((abs(g - w) <= 1e-6 * (1 + abs(w))) | (pd.isna(g) & pd.isna(w))).all(), c


def test_symbols_load_restates_the_holders_sector_rows_every_session(db, settings, tmp_path):
    holder = batch_helpers.store_file(db.engine, write(tmp_path, "h.csv", HOLDER), "h")
    other = batch_helpers.store_file(db.engine, write(tmp_path, "o.csv", OTHER), "o")
    first = batch_helpers.run_batch(db.engine, settings, db.url, as_of=AS_OF,
                                    provider=SyntheticProvider())
    assert first.status.startswith("completed"), first.error
    assert first.prices["profiles"]["unclassified"] == {
        "NOPRO": "synthetic supplies no profiles", "NOPRT": "synthetic supplies no profiles"}
    before = mart_sectors(db)
    assert_same(before, expected_sectors(db, {}))
    assert {"ETF", "Unclassified", "Consumer Discretionary", "Information Technology"} <= set(
        before.sector)
    tsla = before[(before.portfolio_id == holder.portfolio_id)
                  & (before.sector == "Consumer Discretionary")]
    assert len(tsla) == before[before.portfolio_id == holder.portfolio_id].snapshot_date.nunique()

    # TSLA (a stock and an option's underlying) becomes Industrials; NOPRO gets a sector;
    # AAPL is loaded with its seed sector: a manual row that changes nothing restates nothing
    result = load_symbol_profiles(db.engine, write(tmp_path, "s.csv", (
        "symbol,sector\nTSLA,Industrials\nNOPRO,Technology\nAAPL,Information Technology\n")))
    assert sorted(result.reclassified) == ["NOPRO", "TSLA"] and result.restated_portfolios == 1
    marks = [(m["portfolio_id"], m["from_date"])
             for m in db.rows("select portfolio_id, from_date from raw.risk_marks")]

    second = batch_helpers.run_batch(db.engine, settings, db.url, as_of=AS_OF,
                                     provider=SyntheticProvider())
    assert second.status.startswith("completed"), second.error
    assert list(second.prices["profiles"]["unclassified"]) == ["NOPRT"]
    after = mart_sectors(db)
    manual = {"TSLA": ("Industrials", False), "NOPRO": ("Information Technology", False)}
    assert_same(after, expected_sectors(db, manual))
    mine = after[after.portfolio_id == holder.portfolio_id]
    assert "Consumer Discretionary" not in set(mine.sector) and "Unclassified" not in set(
        mine.sector)
    assert (mine.groupby("snapshot_date").sector.apply(lambda s: "Industrials" in set(s))).all()
    # the other portfolio's rows are what they were
    theirs = before.portfolio_id == other.portfolio_id
    assert_same(after[after.portfolio_id == other.portfolio_id].reset_index(drop=True),
                before[theirs].reset_index(drop=True))
    # only the holder was marked, from the first entry of its TSLA / NOPRO positions
    assert marks == [(holder.portfolio_id, date(2024, 6, 3))]
    assert db.scalar("select count(*) from raw.risk_marks") == 0

    # a provider profile that changes a held symbol's class restates the same way
    fetched = fetch_missing_profiles(db.engine, yfinance(RecordedInfo({"NOPRT": "JPM"})),
                                     ["NOPRT", "TSLA"])
    assert fetched.stored == fetched.reclassified == ["NOPRT"]
    assert fetched.restated_portfolios == 1
    assert [(m["portfolio_id"], m["from_date"]) for m in db.rows(
        "select portfolio_id, from_date from raw.risk_marks")] == [
        (other.portfolio_id, date(2024, 7, 1))]
