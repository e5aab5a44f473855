"""The dbt accounting equals an independent calculation, row by row (README "Accounting").

Portfolios with shorts, an exit, options (one expiring inside the window), a weekend
entry, gaps in prices (stale and beyond the stale window) and an unavailable fund; built
incrementally in two runs, then compared with tests/reference_accounting.py.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import batch_helpers
import pandas as pd
import pytest

from ingest.providers.csv_file import CsvProvider
from ingest.providers.synthetic import SyntheticProvider
from snapfolio.core import calendar
from tests.conftest import EXAMPLES
from tests.reference_accounting import RefPosition, expected_position_values, expected_snapshots

DATA = Path(__file__).parent / "data"
AS_OF = date(2025, 4, 30)
SYMBOLS = ["AAPL", "TSLA", "MSFT", "NVDA", "GAPPY", "HOLEY", "IWM", "SPY", "DIS", "COST",
           "IWM250221C00220000", "SPY250620P00560000",
           "TLT", "VTV", "VUG", "MTUM", "QUAL", "USMV"]
# (symbol, first, last) closes removed: a 3-session gap (stale), an 8-session gap
# (beyond the stale window: entry price, incomplete snapshot) and a single missing day
HOLES = [("GAPPY", date(2025, 2, 3), date(2025, 2, 5)),
         ("HOLEY", date(2025, 3, 10), date(2025, 3, 19)),
         ("AAPL", date(2025, 1, 21), date(2025, 1, 21))]


def write_price_file(path: Path) -> None:
    fetched = SyntheticProvider().fetch(SYMBOLS, date(2023, 6, 1), AS_OF).prices
    keep = pd.Series(True, index=fetched.index)
    for symbol, lo, hi in HOLES:
        keep &= ~((fetched.symbol == symbol) & (fetched.price_date >= lo) & (fetched.price_date <= hi))
    out = fetched[keep].rename(columns={"price_date": "date"})
    out[["symbol", "date", "close", "adj_close"]].to_csv(path, index=False)


def load_reference_inputs(db):
    positions = [
        RefPosition(
            position_id=r["position_id"], portfolio_id=r["portfolio_id"], symbol=r["symbol"],
            underlying_symbol=r["underlying_symbol"], quantity=float(r["quantity"]),
            entry_price=float(r["entry_price"]), entry_date=r["entry_date"], exit_date=r["exit_date"],
            exit_price=float(r["exit_price"]) if r["exit_price"] is not None else None,
            option_type=r["option_type"], strike=float(r["strike"]) if r["strike"] is not None else None,
            expiration=r["expiration"], multiplier=r["multiplier"],
        )
        for r in db.rows("select * from raw.positions order by position_id")
    ]
    closes = {(r["symbol"], r["price_date"]): r["close"]
              for r in db.rows("select symbol, price_date, close from raw.prices")}
    unavailable = {r["symbol"] for r in db.rows(
        "select symbol from raw.symbol_status where status = 'unavailable'")}
    equity = {r["portfolio_id"]: float(r["initial_equity"])
              for r in db.rows("select portfolio_id, initial_equity from raw.portfolios")}
    return positions, closes, unavailable, equity


def assert_frames_match(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> None:
    merged = actual.merge(expected, on=keys, how="outer", suffixes=("_db", "_ref"), indicator=True)
    unmatched = merged[merged["_merge"] != "both"]
    assert unmatched.empty, f"rows only on one side:\n{unmatched[keys + ['_merge']].head(20)}"
    for column in [c for c in expected.columns if c not in keys]:
        db_col, ref_col = merged[f"{column}_db"], merged[f"{column}_ref"]
        if pd.api.types.is_float_dtype(ref_col):
            diff = (db_col.astype(float) - ref_col.astype(float)).abs()
            worst = diff.max()
            assert worst <= 1e-6, f"{column}: max difference {worst}\n{merged.loc[diff.idxmax()]}"
        else:
            bad = merged[db_col.astype(str) != ref_col.astype(str)]
            assert bad.empty, f"{column} differs:\n{bad[keys + [f'{column}_db', f'{column}_ref']].head()}"


@pytest.fixture
def built_book(db, settings, tmp_path):
    prices = tmp_path / "prices.csv"
    write_price_file(prices)
    provider = CsvProvider(str(prices))
    batch_helpers.store_file(db.engine, DATA / "portfolios" / "accounting_edge_cases.csv", "edge")
    batch_helpers.store_file(db.engine, EXAMPLES / "small_test_portfolio.csv", "small")
    # two runs: the second must extend each portfolio from its own watermark
    batch_helpers.run_batch(db.engine, settings, db.url, as_of=date(2025, 3, 14), provider=provider)
    summary = batch_helpers.run_batch(db.engine, settings, db.url, as_of=AS_OF, provider=provider)
    return db, summary


def test_position_values_and_snapshots_equal_independent_calculation(built_book):
    db, summary = built_book
    positions, closes, unavailable, equity = load_reference_inputs(db)
    assert unavailable == {"GGIPX"}
    assert any("GGIPX" in w for w in summary.warnings)
    sessions = calendar.sessions_between(date(2023, 1, 1), date(2025, 12, 31))
    ref_values = expected_position_values(positions, closes, sessions, AS_OF, unavailable)
    db_values = pd.DataFrame(db.rows(
        "select portfolio_id, position_id, snapshot_date, symbol, price, price_source, "
        "market_value, cumulative_pnl, daily_pnl, is_open, is_symbol_unavailable "
        "from marts.fct_position_values"))
    assert_frames_match(db_values, ref_values.drop(columns=["previous_cumulative_pnl"]),
                        ["portfolio_id", "position_id", "snapshot_date"])

    ref_snapshots = expected_snapshots(ref_values, equity)
    db_snapshots = pd.DataFrame(db.rows(
        "select portfolio_id, snapshot_date, equity, long_value, short_value, gross_exposure, "
        "net_exposure, cash, daily_pnl, daily_return, cumulative_pnl, position_count, is_complete "
        "from marts.fct_portfolio_snapshots"))
    assert_frames_match(db_snapshots, ref_snapshots, ["portfolio_id", "snapshot_date"])

    # the edge cases really occurred (a test that cannot see them proves nothing)
    sources = set(db_values.price_source)
    assert sources == {"close", "stale", "entry"}
    assert not db_snapshots.is_complete.all(), "HOLEY's 8-session hole must make snapshots incomplete"
    expired = db_values[(db_values.symbol == "IWM250221C00220000") & ~db_values.is_open]
    assert not expired.empty and expired.market_value.eq(0).all()
    assert (db_values.market_value < 0).any()  # shorts


def test_history_change_restates_affected_rows(built_book, settings):
    """A position added with a past entry date (re-onboarding with --replace) is reflected
    in every affected session on the next run."""
    db, _ = built_book
    before = db.scalar("select count(*) from marts.fct_position_values")
    text = (DATA / "portfolios" / "accounting_edge_cases.csv").read_text()
    extended = db.home / "extended.csv"
    extended.write_text(text + "DIS,10,95.00,2025-01-02,PUBLIC,STOCK,,,,,,\n")
    batch_helpers.store_file(db.engine, extended, "edge", replace=True)
    batch_helpers.run_batch(db.engine, settings, db.url, as_of=AS_OF, portfolio_names=["edge"],
                       provider=SyntheticProvider(unavailable={"GGIPX"}))
    added_sessions = len(calendar.sessions_between(date(2025, 1, 2), AS_OF))
    assert db.scalar("select count(*) from marts.fct_position_values") == before + added_sessions
    first = db.rows("select min(snapshot_date) as d from marts.fct_portfolio_snapshots s "
                    "join raw.portfolios p using (portfolio_id) where p.name = 'edge'")[0]["d"]
    assert first == date(2025, 1, 2)
