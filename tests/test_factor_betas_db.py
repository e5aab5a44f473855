"""The factors phase against the database: what `run_batch` stores in raw.symbol_factor_betas.

One module-scoped setup (two batch runs) on three portfolios: a book with two mutual
funds the provider has no data for, a long/short book with options, and a position
entered right after the synthetic price history starts (insufficient history). The
tests only read.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ingest.providers.registry import provider_from_spec
from snapfolio.core import calendar
from snapfolio.core.factor_definitions import factor_etfs, load_definitions

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "portfolios"
AS_OF = date(2025, 10, 31)
PROVIDER = "synthetic:unavailable=GGIPX+NEAIX"
UNAVAILABLE = ("GGIPX", "NEAIX")
HEADER = ("Symbol,Quantity,Entry Price Per Share,Entry Date,Investment Class,Investment Subtype,"
          "Underlying Symbol,Strike Price,Expiration Date,Option Type,Exit Date,Exit Price Per Share")
# the synthetic history starts 2015-01-02: the first windows have too few returns
EARLY_CSV = HEADER + "\nJNJ,100,100.00,2015-01-06,PUBLIC,STOCK,,,,,2015-06-30,110.00\n"


def reference_betas():
    """The independent per-window scikit-learn reference of test_factors_rolling.py."""
    spec = importlib.util.spec_from_file_location(
        "_factor_reference", REPO / "tests" / "test_factors_rolling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reference_betas


@dataclass
class Runs:
    first: object
    second: object
    betas_after_first: int
    ids: dict[str, int]


@pytest.fixture(scope="module")
def runs(test_database, tmp_path_factory) -> Runs:
    import batch_helpers

    from snapfolio.core.settings import load_settings

    db = test_database
    db.reset()
    settings = replace(load_settings(), price_provider=PROVIDER, chunk_sessions=5000)
    early = tmp_path_factory.mktemp("portfolios") / "early.csv"
    early.write_text(EARLY_CSV)
    ids = {
        "scott": batch_helpers.store_file(db.engine, EXAMPLES / "scott_yaphe_portfolio_5M.csv",
                                       "scott").portfolio_id,
        "contrarian": batch_helpers.store_file(db.engine, EXAMPLES / "Contrarian-Value-Trader.csv",
                                            "contrarian").portfolio_id,
        "early": batch_helpers.store_file(db.engine, early, "early").portfolio_id,
    }
    first = batch_helpers.run_batch(db.engine, settings, db.url, as_of=AS_OF)
    count = db.scalar("select count(*) from raw.symbol_factor_betas")
    second = batch_helpers.run_batch(db.engine, settings, db.url, as_of=AS_OF)
    return Runs(first, second, count, ids)


def _betas(db, where: str = "true", **params) -> pd.DataFrame:
    return pd.DataFrame(db.rows(
        f"select symbol, as_of_date, factor, beta, r_squared, n_obs "
        f"from raw.symbol_factor_betas where {where}", **params))


def _returns(db, symbols: list[str], start: date, end: date) -> pd.DataFrame:
    """Independent of factors.rolling: pivot on the exchange_calendars session grid,
    return = p(s) / p(previous session) - 1 only when both exist (no fill)."""
    rows = pd.DataFrame(db.rows(
        "select symbol, price_date, coalesce(adj_close, close) as px from raw.prices "
        "where symbol = any(:s) and price_date between :a and :b",
        s=symbols, a=start, b=end))
    grid = calendar.sessions_between(start, end)
    # a symbol without a price in the range (e.g. a gap between two holding periods,
    # whose betas are stored with n_obs 0) is an all-missing column
    px = rows.pivot(index="price_date", columns="symbol", values="px").reindex(
        index=grid, columns=list(dict.fromkeys(symbols)))
    return px / px.shift(1) - 1.0


def test_runs_succeed_and_second_run_computes_nothing(runs, test_database):
    assert runs.first.status in ("completed", "completed_with_warnings"), runs.first.error
    assert runs.second.status in ("completed", "completed_with_warnings"), runs.second.error
    assert runs.first.factors["rows_written"] > 0
    assert runs.first.factors["rows_written"] == runs.betas_after_first
    assert runs.second.factors["rows_written"] == 0
    # only the unavailable funds' pairs are still "needed" (they can never be computed)
    assert runs.second.factors["pairs_needed"] == runs.second.factors["unavailable_pairs"]
    assert sorted(runs.second.factors["unavailable_symbols"]) == list(UNAVAILABLE)
    assert test_database.scalar("select count(*) from raw.symbol_factor_betas") == \
        runs.betas_after_first


def test_every_open_session_of_an_available_symbol_has_every_factor(runs, test_database):
    n_factors = len(load_definitions())
    rows = test_database.rows(
        """
        select p.symbol, coalesce(p.underlying_symbol, p.symbol) as beta_symbol,
               v.snapshot_date,
               (select count(*) from raw.symbol_factor_betas b
                where b.symbol = coalesce(p.underlying_symbol, p.symbol)
                  and b.as_of_date = v.snapshot_date) as n
        from marts.fct_position_values v
        join raw.positions p on p.position_id = v.position_id
        where v.is_open
        """
    )
    assert rows
    for r in rows:
        expected = 0 if r["beta_symbol"] in UNAVAILABLE else n_factors
        assert r["n"] == expected, r


def test_unavailable_and_option_symbols_have_no_beta_rows(runs, test_database):
    assert test_database.scalar(
        "select count(*) from raw.symbol_factor_betas where symbol = any(:s)",
        s=list(UNAVAILABLE)) == 0
    options = test_database.rows(
        "select symbol, underlying_symbol from raw.positions where underlying_symbol is not null")
    assert len(options) == 8
    assert test_database.scalar(
        "select count(*) from raw.symbol_factor_betas where symbol = any(:s)",
        s=[o["symbol"] for o in options]) == 0
    for o in options:  # the underlying's betas exist instead
        assert test_database.scalar(
            "select count(*) from raw.symbol_factor_betas where symbol = :s",
            s=o["underlying_symbol"]) > 0


def test_stored_betas_equal_a_per_window_sklearn_fit(runs, test_database):
    definitions = load_definitions()
    pairs = test_database.rows(
        "select distinct symbol, as_of_date from raw.symbol_factor_betas order by 1, 2")
    rng = np.random.default_rng(11)
    sample = [pairs[i] for i in rng.choice(len(pairs), 40, replace=False)]
    # and the insufficient-history edge: the early symbol's first sessions and the switch
    early = [p for p in pairs if p["symbol"] == "JNJ" and p["as_of_date"] < date(2015, 5, 1)]
    assert len(early) > 60
    sample += early[:3] + early[25:32] + early[55:62]
    stored = _betas(test_database)
    stored = stored.set_index(["symbol", "as_of_date", "factor"]).sort_index()
    reference = reference_betas()

    checked_beta = checked_null = 0
    # the early pairs get a frame starting before the synthetic history (all missing
    # there), the others one starting 200 sessions before their first sample
    recent = [p for p in sample if p["as_of_date"].year > 2015]
    for group, start in ((recent, calendar.sessions_back(min(p["as_of_date"] for p in recent), 200)),
                         ([p for p in sample if p["as_of_date"].year == 2015], date(2014, 6, 2))):
        symbols = sorted({p["symbol"] for p in group})
        end = max(p["as_of_date"] for p in group)
        returns = _returns(test_database, symbols + factor_etfs(definitions), start, end)
        ref = reference(returns, definitions, [(p["symbol"], p["as_of_date"]) for p in group])
        for p in group:
            for d in definitions:
                key = (p["symbol"], p["as_of_date"], d.factor)
                row = stored.loc[key]
                if key in ref:
                    beta, r2, n = ref[key]
                    assert row["beta"] == pytest.approx(beta, abs=1e-8, rel=0), key
                    assert row["r_squared"] == pytest.approx(r2, abs=1e-8, rel=0), key
                    assert row["n_obs"] == n, key
                    checked_beta += 1
                else:
                    assert pd.isna(row["beta"]), key
                    # n_obs of a NULL row is the window's usable-row count
                    window = returns.loc[:p["as_of_date"]].tail(d.window)
                    if d.method == "spread":
                        x_ok = (window[d.regressors[0]] - window[d.regressors[1]]).notna()
                    else:
                        x_ok = window[list(d.regressors)].notna().all(axis=1)
                    usable = int((window[p["symbol"]].notna() & x_ok).sum())
                    assert row["n_obs"] == usable < d.min_obs, key
                    checked_null += 1
    assert checked_beta > 400 and checked_null > 20


def test_market_beta_recovers_the_synthetic_truth(runs, test_database):
    """The provider's population betas, within 5 standard errors of a 90-day OLS slope."""
    provider = provider_from_spec(PROVIDER)
    stored = _betas(test_database, "as_of_date = :d and factor = 'market_beta'", d=AS_OF)
    assert len(stored) >= 20
    spy = _returns(test_database, ["SPY"], calendar.sessions_back(AS_OF, 95), AS_OF)["SPY"]
    spy = spy.tail(90).dropna()
    sxx = float(((spy - spy.mean()) ** 2).sum())
    errors = []
    for r in stored.itertuples():
        truth = provider.true_betas(r.symbol)["market_beta"]
        se = provider.residual_sigma(r.symbol, "market_beta") / np.sqrt(sxx)
        assert r.n_obs == 90
        assert abs(r.beta - truth) < 5 * se, (r.symbol, r.beta, truth, se)
        errors.append((r.beta - truth) / se)
    # and no systematic bias across symbols (mean of ~N(0,1) z-scores)
    assert abs(np.mean(errors)) < 5 / np.sqrt(len(errors))


def test_insufficient_history_is_stored_as_null_betas(runs, test_database):
    rows = _betas(test_database, "symbol = 'JNJ' and factor = 'market_beta'")
    rows = rows.sort_values("as_of_date").reset_index(drop=True)
    assert rows["as_of_date"].iloc[0] == date(2015, 1, 6)
    null = rows["beta"].isna()
    # betas appear exactly when the window reaches min_obs returns, then stay
    first_ok = int(np.argmax(~null.to_numpy()))
    assert null.iloc[:first_ok].all() and (~null.iloc[first_ok:]).all()
    assert (rows["n_obs"].iloc[:first_ok] < 30).all() and rows["n_obs"].iloc[first_ok] >= 30
    assert rows["r_squared"][null].isna().all()
    assert runs.first.factors["null_beta_rows"] == int(test_database.scalar(
        "select count(*) from raw.symbol_factor_betas where beta is null"))
