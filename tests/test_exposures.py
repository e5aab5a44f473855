"""Factor exposures end to end: marts.fct_position_factor_exposures and
marts.fct_portfolio_factor_exposures after `run_batch`.

One module-scoped setup, three batch runs, then the tests only read:
1. onboarding run of a book holding two funds the provider has no data for;
2. a run of every portfolio, after onboarding a long/short book with options and a
   position whose first windows have too few returns;
3. the next session's daily run, after damaging the marts the way the self-healing
   and restatement rules must repair (exposure rows deleted; a beta deleted and its
   exposure made stale).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snapfolio.core.factor_definitions import load_definitions

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "portfolios"
AS_OF = date(2025, 10, 31)
NEXT = date(2025, 11, 3)
PROVIDER = "synthetic:unavailable=GGIPX+NEAIX"
UNAVAILABLE = ("GGIPX", "NEAIX")
HEADER = ("Symbol,Quantity,Entry Price Per Share,Entry Date,Investment Class,Investment Subtype,"
          "Underlying Symbol,Strike Price,Expiration Date,Option Type,Exit Date,Exit Price Per Share")
EARLY_CSV = HEADER + "\nJNJ,100,100.00,2015-01-06,PUBLIC,STOCK,,,,,2015-06-30,110.00\n"
HEALED = date(2025, 6, 2)  # scott: exposure rows deleted before the daily run
RESTATED = date(2025, 8, 1)  # contrarian / BAC: beta deleted, exposure made stale

MISSING_EXPOSURES_SQL = """
select count(*)
from marts.fct_position_values v
cross join raw_seeds.factor_definitions f
left join marts.fct_position_factor_exposures e
  on e.portfolio_id = v.portfolio_id and e.position_id = v.position_id
 and e.snapshot_date = v.snapshot_date and e.factor = f.factor
where v.is_open and e.portfolio_id is null
"""


@dataclass
class World:
    summaries: list
    onboarding_missing: int
    onboarding_rows: int
    ids: dict[str, int]


@pytest.fixture(scope="module")
def world(test_database, tmp_path_factory) -> World:
    import batch_helpers

    from snapfolio.core.settings import load_settings

    db = test_database
    db.reset()
    settings = replace(load_settings(), price_provider=PROVIDER, chunk_sessions=5000)
    ids = {"scott": batch_helpers.store_file(
        db.engine, EXAMPLES / "scott_yaphe_portfolio_5M.csv", "scott").portfolio_id}
    first = batch_helpers.run_batch(db.engine, settings, db.url, as_of=AS_OF, portfolio_names=["scott"])
    onboarding_missing = db.scalar(MISSING_EXPOSURES_SQL)
    onboarding_rows = db.scalar("select count(*) from marts.fct_position_factor_exposures")

    early = tmp_path_factory.mktemp("portfolios") / "early.csv"
    early.write_text(EARLY_CSV)
    ids["contrarian"] = batch_helpers.store_file(
        db.engine, EXAMPLES / "Contrarian-Value-Trader.csv", "contrarian").portfolio_id
    ids["early"] = batch_helpers.store_file(db.engine, early, "early").portfolio_id
    second = batch_helpers.run_batch(db.engine, settings, db.url, as_of=AS_OF)

    with db.engine.begin() as conn:
        import sqlalchemy as sa

        conn.execute(sa.text(
            "delete from marts.fct_position_factor_exposures "
            "where portfolio_id = :p and snapshot_date = :d and factor = 'size'"),
            {"p": ids["scott"], "d": HEALED})
        conn.execute(sa.text(
            "delete from raw.symbol_factor_betas where symbol = 'BAC' and as_of_date = :d"),
            {"d": RESTATED})
        conn.execute(sa.text(
            "update marts.fct_position_factor_exposures set beta = 99 "
            "where portfolio_id = :p and snapshot_date = :d and symbol = 'BAC'"),
            {"p": ids["contrarian"], "d": RESTATED})
    third = batch_helpers.run_batch(db.engine, settings, db.url, as_of=NEXT)
    return World([first, second, third], onboarding_missing, onboarding_rows, ids)


def _frame(db, sql: str, **params) -> pd.DataFrame:
    return pd.DataFrame(db.rows(sql, **params))


def test_runs_complete(world):
    for s in world.summaries:
        assert s.status in ("completed", "completed_with_warnings"), s.error


def test_onboarding_run_has_every_exposure_row(world):
    assert world.onboarding_rows > 0
    assert world.onboarding_missing == 0


def test_every_open_position_has_every_factor_on_every_session(world, test_database):
    n_factors = len(load_definitions())
    assert test_database.scalar(MISSING_EXPOSURES_SQL) == 0
    open_rows = test_database.scalar(
        "select count(*) from marts.fct_position_values where is_open")
    assert test_database.scalar(
        "select count(*) from marts.fct_position_factor_exposures") == open_rows * n_factors
    # and every session of every portfolio has its portfolio rows
    assert test_database.scalar(
        "select count(*) from marts.fct_portfolio_factor_exposures") == n_factors * \
        test_database.scalar("select count(*) from marts.fct_portfolio_snapshots")
    assert test_database.scalar(
        "select max(snapshot_date) from marts.fct_position_factor_exposures") == NEXT


def test_daily_run_computes_only_what_is_new(world, test_database):
    stats = world.summaries[2].factors
    n_factors = len(load_definitions())
    open_symbols = test_database.scalar(
        "select count(distinct coalesce(p.underlying_symbol, p.symbol)) "
        "from marts.fct_position_values v join raw.positions p using (position_id) "
        "where v.is_open and v.snapshot_date = :d and not "
        "coalesce(p.underlying_symbol, p.symbol) = any(:u)", d=NEXT, u=list(UNAVAILABLE))
    # the next session for every open symbol + the one deleted BAC beta
    assert stats["pairs_needed"] - stats["unavailable_pairs"] == open_symbols + 1
    assert stats["rows_written"] == (open_symbols + 1) * n_factors
    assert stats["restated_portfolios"] == 1


def test_self_healing_refills_deleted_exposure_rows(world, test_database):
    n = test_database.scalar(
        "select count(*) from marts.fct_position_factor_exposures "
        "where portfolio_id = :p and snapshot_date = :d and factor = 'size'",
        p=world.ids["scott"], d=HEALED)
    positions = test_database.scalar(
        "select position_count from marts.fct_portfolio_snapshots "
        "where portfolio_id = :p and snapshot_date = :d", p=world.ids["scott"], d=HEALED)
    assert n == positions > 0


def test_position_beta_is_the_stored_symbol_beta(world, test_database):
    """Every ok exposure equals raw.symbol_factor_betas of its symbol (options: the
    underlying's), including the BAC beta recomputed after the stale exposure."""
    df = _frame(test_database, """
        select e.symbol, p.underlying_symbol, e.beta, b.beta as stored, e.exposure_status,
               e.snapshot_date
        from marts.fct_position_factor_exposures e
        join raw.positions p on p.position_id = e.position_id
        left join raw.symbol_factor_betas b
          on b.symbol = coalesce(p.underlying_symbol, p.symbol)
         and b.as_of_date = e.snapshot_date and b.factor = e.factor
    """)
    ok = df[df["exposure_status"] == "ok"]
    assert len(ok) > 0
    np.testing.assert_array_equal(ok["beta"].to_numpy(), ok["stored"].to_numpy())
    assert (df[df["exposure_status"] != "ok"]["beta"].isna()).all()
    bac = ok[(ok["symbol"] == "BAC") & (ok["snapshot_date"] == RESTATED)]
    assert len(bac) == len(load_definitions()) and (bac["beta"].abs() <= 5).all()


def test_options_use_their_underlyings_betas(world, test_database):
    df = _frame(test_database, """
        select e.symbol, p.underlying_symbol, e.factor, e.snapshot_date, e.beta,
               e.exposure_status, u.beta as underlying_beta
        from marts.fct_position_factor_exposures e
        join raw.positions p on p.position_id = e.position_id
        left join raw.symbol_factor_betas u
          on u.symbol = p.underlying_symbol and u.as_of_date = e.snapshot_date
         and u.factor = e.factor
        where e.portfolio_id = :p and p.underlying_symbol is not null
    """, p=world.ids["contrarian"])
    assert df["symbol"].nunique() == 8  # the eight options, all open for a while
    assert (df["symbol"] != df["underlying_symbol"]).all()
    assert (df["exposure_status"] == "ok").all()
    np.testing.assert_array_equal(df["beta"].to_numpy(), df["underlying_beta"].to_numpy())
    # an option has no rows after its expiry (closed), e.g. the Aug-16 calls and puts
    assert df[df["symbol"].str.contains("250816")]["snapshot_date"].max() == date(2025, 8, 15)


def test_unavailable_funds_are_unavailable_with_their_reason(world, test_database):
    df = _frame(test_database, """
        select e.symbol, e.exposure_status, e.exposure_reason, e.beta, s.reason
        from marts.fct_position_factor_exposures e
        join raw.symbol_status s on s.symbol = e.symbol
        where e.symbol = any(:u)
    """, u=list(UNAVAILABLE))
    assert set(df["symbol"]) == set(UNAVAILABLE)
    assert (df["exposure_status"] == "unavailable").all()
    assert df["beta"].isna().all()
    assert (df["exposure_reason"] == df["reason"]).all()
    assert df["reason"].str.contains("no data").all()
    # and they are the only unavailable exposures
    assert test_database.scalar(
        "select count(*) from marts.fct_position_factor_exposures "
        "where exposure_status = 'unavailable' and not symbol = any(:u)",
        u=list(UNAVAILABLE)) == 0


def test_insufficient_history_then_ok(world, test_database):
    df = _frame(test_database, """
        select snapshot_date, factor, beta, exposure_status, exposure_reason
        from marts.fct_position_factor_exposures
        where portfolio_id = :p order by snapshot_date
    """, p=world.ids["early"])
    market = df[df["factor"] == "market_beta"].reset_index(drop=True)
    assert market["exposure_status"].iloc[0] == "insufficient_history"
    assert market["exposure_reason"].iloc[0].startswith("insufficient history: ")
    assert market["exposure_reason"].iloc[0].endswith(" of 30 observations")
    switch = int(np.argmax((market["exposure_status"] == "ok").to_numpy()))
    assert 25 <= switch <= 35
    assert (market["exposure_status"].iloc[switch:] == "ok").all()
    # the 180-session spreads need 60 observations: insufficient for longer
    spread = df[df["factor"] == "size_spread"].reset_index(drop=True)
    assert (spread["exposure_status"].iloc[:switch + 25] == "insufficient_history").all()
    # the exited position leaves sessions with no open position: beta 0, no rows missing
    after = _frame(test_database, """
        select beta, dollar_exposure, positions_with_beta, positions_without_beta
        from marts.fct_portfolio_factor_exposures
        where portfolio_id = :p and snapshot_date > '2015-07-01'
    """, p=world.ids["early"])
    assert len(after) > 1000
    assert (after["beta"] == 0).all() and (after["positions_with_beta"] == 0).all()
    assert (after["positions_without_beta"] == 0).all()


def test_portfolio_beta_is_market_value_weighted_over_equity(world, test_database):
    positions = _frame(test_database, """
        select portfolio_id, snapshot_date, factor, market_value, beta
        from marts.fct_position_factor_exposures
    """)
    equity = _frame(test_database,
                    "select portfolio_id, snapshot_date, equity from marts.fct_portfolio_snapshots")
    mart = _frame(test_database, "select * from marts.fct_portfolio_factor_exposures")

    with_beta = positions.dropna(subset=["beta"]).assign(
        weighted=lambda f: f["market_value"] * f["beta"])
    keys = ["portfolio_id", "snapshot_date", "factor"]
    expected = with_beta.groupby(keys).agg(
        weighted=("weighted", "sum"), with_beta=("beta", "size")).reset_index()
    without = positions[positions["beta"].isna()].groupby(keys).size().rename("without")
    merged = (mart.merge(expected, on=keys, how="left").merge(without, on=keys, how="left")
              .merge(equity, on=["portfolio_id", "snapshot_date"], suffixes=("", "_snap")))
    merged = merged.fillna({"weighted": 0.0, "with_beta": 0, "without": 0})
    assert len(merged) == len(mart) > 0
    np.testing.assert_allclose(merged["equity"], merged["equity_snap"], rtol=0, atol=0)
    np.testing.assert_allclose(merged["beta"], merged["weighted"] / merged["equity_snap"],
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(merged["dollar_exposure"], merged["beta"] * merged["equity"],
                               rtol=1e-12, atol=1e-6)
    assert (merged["positions_with_beta"] == merged["with_beta"]).all()
    assert (merged["positions_without_beta"] == merged["without"]).all()
    # scott's two funds never count; its market beta is a real number, not 0
    scott = merged[(merged["portfolio_id"] == world.ids["scott"])
                   & (merged["factor"] == "market_beta")]
    assert (scott["positions_without_beta"] == 2).all()
    assert (scott["beta"].abs() > 0.1).all()


def test_export_exposures(world, test_database):
    from snapfolio.cli.exports import EXPORTS, export_text

    with test_database.engine.connect() as conn:
        text = export_text(conn, "exposures", world.ids["contrarian"])
    lines = text.splitlines()
    assert lines[0] == ",".join(EXPORTS["exposures"][1])
    assert lines[0].startswith("portfolio_id,position_id,snapshot_date,symbol,factor,beta,")
    assert len(lines) - 1 == test_database.scalar(
        "select count(*) from marts.fct_position_factor_exposures where portfolio_id = :p",
        p=world.ids["contrarian"])
    first = dict(zip(lines[0].split(","), lines[1].split(",")))
    assert first["snapshot_date"] == "2025-06-30" and first["exposure_status"] == "ok"
