"""The exposure store (docs/performance.md "Exposure layout"): one vector row per open
position x session in marts_store.fct_position_exposure_vectors, the contract's long
form marts.fct_position_factor_exposures a view over it.

Checked against a plain re-implementation of DESIGN "Factors" in loops: for every open
position x session x factor, the beta is the stored beta of the symbol (an option's
underlying's), position exposure beta x market value, the status ok /
insufficient_history / unavailable with its reason, and the portfolio's
dollar_exposure the sum of the positions' beta x market value. Then the long-form
view's write path (INSTEAD OF triggers): a deleted factor is missing for the gate and
the work set and comes back exactly.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from snapfolio.core.factor_definitions import load_definitions

REPO = Path(__file__).resolve().parent.parent
AS_OF = date(2025, 10, 31)
PROVIDER = "synthetic:unavailable=BAC"
HEADER = ("Symbol,Quantity,Entry Price Per Share,Entry Date,Investment Class,Investment Subtype,"
          "Underlying Symbol,Strike Price,Expiration Date,Option Type,Exit Date,Exit Price Per Share")
EARLY_CSV = HEADER + "\nJNJ,100,100.00,2015-01-06,PUBLIC,STOCK,,,,,2015-06-30,110.00\n"


@pytest.fixture(scope="module")
def book(test_database, tmp_path_factory) -> dict[str, int]:
    import batch_helpers

    from snapfolio.core.settings import load_settings

    db = test_database
    db.reset()
    settings = replace(load_settings(), price_provider=PROVIDER, chunk_sessions=5000)
    early = tmp_path_factory.mktemp("portfolios") / "early.csv"
    early.write_text(EARLY_CSV)
    ids = {"contrarian": batch_helpers.store_file(
        db.engine, REPO / "examples" / "portfolios" / "Contrarian-Value-Trader.csv",
        "contrarian").portfolio_id,
        "early": batch_helpers.store_file(db.engine, early, "early").portfolio_id}
    summary = batch_helpers.run_batch(db.engine, settings, db.url, as_of=AS_OF)
    assert summary.status in ("completed", "completed_with_warnings"), summary.error
    return ids


def expected_exposures(db) -> dict[tuple, tuple]:
    """DESIGN "Factors", one open position x session x factor at a time."""
    factors = {d.factor: d.min_obs for d in load_definitions()}
    underlying = {r["position_id"]: r["underlying_symbol"] or r["symbol"]
                  for r in db.rows("select position_id, symbol, underlying_symbol from raw.positions")}
    betas = {(r["symbol"], r["as_of_date"], r["factor"]): (r["beta"], r["n_obs"])
             for r in db.rows("select symbol, as_of_date, factor, beta, n_obs from raw.symbol_factor_betas")}
    status = {r["symbol"]: (r["status"], r["reason"])
              for r in db.rows("select symbol, status, reason from raw.symbol_status")}
    out = {}
    for v in db.rows("select portfolio_id, position_id, snapshot_date, symbol, market_value "
                     "from marts.fct_position_values where is_open"):
        beta_symbol = underlying[v["position_id"]]
        for factor, min_obs in factors.items():
            row = betas.get((beta_symbol, v["snapshot_date"], factor))
            if row is not None and row[0] is not None:
                state, reason = "ok", None
            elif row is not None:
                state = "insufficient_history"
                n_obs = row[1]
                reason = (f"insufficient history: {n_obs} of {min_obs} observations"
                          if n_obs is not None and n_obs < min_obs
                          else "no beta: constant regressor in the window")
            else:
                state = "unavailable"
                s, r = status.get(beta_symbol, (None, None))
                reason = (r or f"symbol {beta_symbol} unavailable") if s == "unavailable" \
                    else "no factor beta computed"
            beta = row[0] if row is not None else None
            out[(v["portfolio_id"], v["position_id"], v["snapshot_date"], factor)] = (
                v["symbol"], beta, None if beta is None else beta * v["market_value"], state, reason,
                v["market_value"])
    return out


def long_rows(db) -> dict[tuple, tuple]:
    return {(r["portfolio_id"], r["position_id"], r["snapshot_date"], r["factor"]):
            (r["symbol"], r["beta"], None if r["beta"] is None else r["beta"] * r["market_value"],
             r["exposure_status"], r["exposure_reason"], r["market_value"])
            for r in db.rows("select * from marts.fct_position_factor_exposures")}


def test_long_form_view_is_beta_times_position_value(book, test_database):
    db = test_database
    expected = expected_exposures(db)
    got = long_rows(db)
    assert len(got) == db.scalar("select count(*) from marts.fct_position_factor_exposures")
    assert got.keys() == expected.keys()
    assert got == expected  # exact: the view holds the stored betas, unchanged
    states = {v[3] for v in got.values()}
    assert states == {"ok", "insufficient_history", "unavailable"}
    assert any(v[0] != "BAC" and len(v[0]) > 6 for v in got.values())  # options
    # the store: one row per open position x session, a vector of every factor
    n_factors = len(load_definitions())
    assert db.scalar("select count(*) from marts_store.fct_position_exposure_vectors") * n_factors \
        == len(got)
    assert db.scalar("select count(*) from marts_store.fct_position_exposure_vectors "
                     "where cardinality(betas) <> :n or deleted_factors is not null",
                     n=n_factors) == 0


def test_portfolio_dollar_exposure_is_the_sum_of_beta_times_value(book, test_database):
    sums: dict[tuple, float] = defaultdict(float)
    for (p, _, d, factor), (_, _, dollars, *_rest) in expected_exposures(test_database).items():
        if dollars is not None:
            sums[(p, d, factor)] += dollars
    mart = test_database.rows("select portfolio_id, snapshot_date, factor, dollar_exposure "
                              "from marts.fct_portfolio_factor_exposures")
    assert len(mart) > 0
    for r in mart:
        assert r["dollar_exposure"] == pytest.approx(sums.get((r["portfolio_id"], r["snapshot_date"], r["factor"]), 0.0),
                                                  rel=1e-12, abs=1e-6)


def test_long_form_writes_reach_the_store_and_come_back(book, test_database):
    db = test_database
    before = long_rows(db)
    key = "portfolio_id = :p and snapshot_date = :d and factor = 'size'"
    p, d = book["contrarian"], date(2025, 8, 1)
    count = "select exposure_rows from marts.fct_position_factor_exposures_counts " \
            "where portfolio_id = :p and snapshot_date = :d"
    rows_before = db.scalar(count, p=p, d=d)
    with db.engine.begin() as conn:
        deleted = [dict(r) for r in conn.execute(sa.text(
            f"select * from marts.fct_position_factor_exposures where {key}"), {"p": p, "d": d}).mappings()]
        conn.execute(sa.text(f"delete from marts.fct_position_factor_exposures where {key}"),
                     {"p": p, "d": d})
    assert len(deleted) > 1
    assert db.scalar(f"select count(*) from marts.fct_position_factor_exposures where {key}",
                     p=p, d=d) == 0
    assert db.scalar(count, p=p, d=d) == rows_before - len(deleted)  # the work set sees it
    cols = list(deleted[0])
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"insert into marts.fct_position_factor_exposures ({', '.join(cols)}) "
                             f"values ({', '.join(':' + c for c in cols)})"), deleted)
    assert long_rows(db) == before
    assert db.scalar(count, p=p, d=d) == rows_before
    assert db.scalar("select count(*) from marts_store.fct_position_exposure_vectors "
                     "where deleted_factors is not null") == 0
