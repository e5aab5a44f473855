"""Vectorized factor regressions vs an independent per-window scikit-learn reference.

The reference below deliberately shares nothing with ``factors.rolling``: it slices
each window, drops incomplete rows, and fits sklearn estimators one window at a time,
exactly as the DESIGN "Factors" section reads. ``benchmarks/factors.py`` reuses it as
the loop baseline.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from factors.rolling import OUTPUT_COLUMNS, compute_betas, returns_from_prices
from snapfolio.core.factor_definitions import (
    FactorDefinition,
    factor_etfs,
    fit_groups,
    load_definitions,
    lookback_sessions,
)

ETFS = ["SPY", "TLT", "VTV", "VUG", "MTUM", "QUAL", "IWM", "USMV"]
FACTOR_NAMES = [
    "market_beta", "ir_beta", "value", "growth", "momentum", "quality", "size", "low_vol",
    "growth_value_spread", "momentum_spread", "size_spread", "quality_spread",
]
Key = tuple[str, date, str]


# --------------------------------------------------------------------------- reference
def reference_betas(
    returns: pd.DataFrame,
    definitions: list[FactorDefinition],
    pairs: Iterable[tuple[str, date]],
) -> dict[Key, tuple[float, float, int]]:
    """Per-window sklearn fits: {(symbol, session, factor): (beta, r², n_obs)}."""
    pos = {d: i for i, d in enumerate(returns.index)}
    data = {c: returns[c].to_numpy(dtype=float) for c in returns.columns}
    ridge_slot: dict[tuple[str, ...], int] = {}
    coef_index = {}
    for d in definitions:
        if d.method == "ridge":
            coef_index[d.factor] = ridge_slot.get(d.regressors, 0)
            ridge_slot[d.regressors] = coef_index[d.factor] + 1

    def column(sym: str, lo: int, hi: int) -> np.ndarray:
        return data[sym][lo:hi] if sym in data else np.full(hi - lo, np.nan)

    out: dict[Key, tuple[float, float, int]] = {}
    for sym, day in pairs:
        end = pos[day]
        ridge_cache: dict[tuple, np.ndarray | None] = {}
        for d in definitions:
            lo, hi = max(0, end - d.window + 1), end + 1
            y = column(sym, lo, hi)
            if d.method == "spread":
                x = (column(d.regressors[0], lo, hi) - column(d.regressors[1], lo, hi))[:, None]
            else:
                x = np.column_stack([column(r, lo, hi) for r in d.regressors])
            keep = np.isfinite(y) & np.isfinite(x).all(axis=1)
            n = int(keep.sum())
            if n < d.min_obs:
                continue
            x, y = x[keep], y[keep]
            if d.method == "ridge":
                key = (d.regressors, d.window, d.min_obs, d.alpha)
                if key not in ridge_cache:
                    model = make_pipeline(StandardScaler(), Ridge(alpha=d.alpha)).fit(x, y)
                    coefs = model[-1].coef_ / model[0].scale_
                    ridge_cache[key] = (coefs, _r2(model, x, y))
                coefs, r2 = ridge_cache[key]
                beta = coefs[coef_index[d.factor]]
            else:
                if np.ptp(x) == 0:  # no beta against a constant regressor
                    continue
                model = LinearRegression().fit(x, y)
                beta, r2 = model.coef_[0], _r2(model, x, y)
            out[(sym, day, d.factor)] = (float(np.clip(beta, -d.cap, d.cap)), r2, n)
    return out


def _r2(model, x: np.ndarray, y: np.ndarray) -> float:
    """sklearn's score, defined as 0 when y is constant (nothing to explain)."""
    return 0.0 if np.ptp(y) == 0 else float(model.score(x, y))


# --------------------------------------------------------------------------- data
def synthetic_returns(n_sessions: int = 300, n_symbols: int = 12, seed: int = 7) -> pd.DataFrame:
    """Factor-model returns with missing cells, a long gap, a huge-beta symbol, a
    constant-NAV stretch and constant regressor stretches (TLT = 0, IWM = const)."""
    rng = np.random.default_rng(seed)
    sessions = pd.bdate_range("2023-01-03", periods=n_sessions).date
    market = rng.normal(4e-4, 0.01, n_sessions)
    etf = {"SPY": market, "TLT": rng.normal(0, 0.008, n_sessions) - 0.2 * market}
    loadings = {"VTV": 0.9, "VUG": 1.15, "MTUM": 1.05, "QUAL": 1.0, "IWM": 1.2, "USMV": 0.7}
    for name, load in loadings.items():
        etf[name] = load * market + rng.normal(0, 0.004, n_sessions)
    frame = pd.DataFrame(etf, index=sessions)
    for i in range(n_symbols):
        b = rng.normal(1.0, 0.4, len(ETFS))
        noise = rng.normal(0, 0.015, n_sessions)
        frame[f"S{i:02d}"] = 3e-4 + frame[ETFS].to_numpy() @ (b / 4) + noise
    frame["S01"] = 40 * frame["SPY"] - 30 * frame["TLT"] + 25 * (frame["VUG"] - frame["VTV"])
    values = frame.to_numpy()
    holes = rng.random(values.shape) < 0.04
    holes[:, : len(ETFS)] &= rng.random((n_sessions, len(ETFS))) < 0.3  # ETFs: ~1 %
    values[holes] = np.nan
    frame.loc[:, :] = values
    frame.iloc[60:250, frame.columns.get_loc("S00")] = np.nan  # long gap
    frame.iloc[100:220, frame.columns.get_loc("S02")] = 0.0  # constant NAV
    frame.iloc[150:262, frame.columns.get_loc("TLT")] = 0.0  # constant regressor (exact 0)
    frame.iloc[30:140, frame.columns.get_loc("IWM")] = 0.0013  # constant, non-zero
    return frame


def as_dict(frame: pd.DataFrame) -> dict[Key, tuple[float, float, int]]:
    return {
        (r.symbol, r.as_of_date, r.factor): (r.beta, r.r_squared, r.n_obs)
        for r in frame.itertuples(index=False)
    }


@pytest.fixture(scope="module")
def definitions() -> list[FactorDefinition]:
    return load_definitions()


@pytest.fixture(scope="module")
def returns() -> pd.DataFrame:
    return synthetic_returns()


@pytest.fixture(scope="module")
def symbols(returns: pd.DataFrame) -> list[str]:
    return [c for c in returns.columns if c not in ETFS] + ["SPY"]


@pytest.fixture(scope="module")
def vectorized(returns, definitions, symbols) -> pd.DataFrame:
    return compute_betas(returns, definitions, symbols=symbols)


@pytest.fixture(scope="module")
def reference(returns, definitions, symbols) -> dict[Key, tuple[float, float, int]]:
    pairs = [(s, d) for s in symbols for d in returns.index]
    return reference_betas(returns, definitions, pairs)


# --------------------------------------------------------------------------- tests
def test_definitions_match_design(definitions):
    assert [d.factor for d in definitions] == FACTOR_NAMES
    assert factor_etfs(definitions) == ["SPY", "TLT", "VTV", "VUG", "MTUM", "QUAL", "IWM",
                                        "USMV"]
    assert lookback_sessions(definitions) == 179
    groups = fit_groups(definitions)
    ridge = [g for g in groups if g.method == "ridge"]
    assert len(groups) == 7 and len(ridge) == 1
    assert [(f, i) for f, i, _ in ridge[0].outputs] == [
        ("value", 0), ("growth", 1), ("momentum", 2), ("quality", 3), ("size", 4),
        ("low_vol", 5)]
    by_name = {d.factor: d for d in definitions}
    assert (by_name["market_beta"].window, by_name["market_beta"].min_obs) == (90, 30)
    assert by_name["size_spread"].regressors == ("IWM", "SPY")
    assert (by_name["size_spread"].window, by_name["size_spread"].min_obs) == (180, 60)
    assert all(d.cap == 5 for d in definitions)


def test_ridge_group_needs_one_row_per_regressor(definitions):
    partial = [d for d in definitions if d.factor != "low_vol"]
    with pytest.raises(ValueError, match="one row per coefficient"):
        fit_groups(partial)


def test_matches_sklearn_reference(vectorized, reference):
    got = as_dict(vectorized)
    assert list(vectorized.columns) == OUTPUT_COLUMNS
    assert set(got) == set(reference)
    beta_err = max(abs(got[k][0] - reference[k][0]) for k in reference)
    r2_err = max(abs(got[k][1] - reference[k][1]) for k in reference)
    assert beta_err <= 1e-8, beta_err
    assert r2_err <= 1e-8, r2_err
    assert all(got[k][2] == reference[k][2] for k in reference)


def test_fixture_exercises_edge_cases(vectorized, reference, returns):
    """Guard the fixture itself: caps, gaps and constant stretches really occur."""
    betas = vectorized.set_index(["symbol", "factor"])["beta"]
    assert (betas.loc[("S01", "market_beta")].abs() == 5).all()
    assert (betas.loc[("S01", "growth_value_spread")] == 5).any()
    s00 = vectorized[(vectorized.symbol == "S00") & (vectorized.factor == "market_beta")]
    assert 0 < len(s00) < len(returns) - 29  # the gap removes windows below min_obs
    tlt_flat = returns.index[259]  # window 170..259: TLT constant on every usable row
    assert ("S03", tlt_flat, "ir_beta") not in reference
    assert ("S03", tlt_flat, "market_beta") in reference
    iwm_flat = ("S03", returns.index[135], "size")  # ridge column constant: scale 1
    assert iwm_flat in reference and abs(reference[iwm_flat][0]) < 1e-8
    nav = reference[("S02", returns.index[215], "market_beta")]
    assert nav[0] == pytest.approx(0, abs=1e-12) and nav[1] == 0.0


def test_target_sessions_restrict_output(returns, definitions, vectorized):
    targets = {"S05": list(returns.index[[10, 100, 299]]), "S00": list(returns.index[150:160])}
    got = compute_betas(returns, definitions, target_sessions=targets)
    want = vectorized[
        vectorized.apply(lambda r: r.as_of_date in targets.get(r.symbol, ()), axis=1)
    ]
    key = ["symbol", "as_of_date", "factor"]
    got = got.sort_values(key).reset_index(drop=True)
    want = want.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_exact=False, atol=1e-12, rtol=0)
    assert set(got.symbol) == {"S05"}  # S00 has no usable window there
    with pytest.raises(ValueError, match="not in returns index"):
        compute_betas(returns, definitions, target_sessions={"S05": [date(1999, 1, 4)]})


def test_missing_regressor_column_gives_no_rows(returns, definitions):
    got = compute_betas(returns.drop(columns=["IWM"]), definitions, symbols=["S04"])
    absent = {"value", "growth", "momentum", "quality", "size", "low_vol", "size_spread"}
    assert set(got.factor) == set(FACTOR_NAMES) - absent


def test_empty_request(returns, definitions):
    got = compute_betas(returns, definitions, target_sessions={})
    assert list(got.columns) == OUTPUT_COLUMNS and got.empty


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_recovers_known_market_beta(seed):
    """y = a + b x + e: every 90-session estimate lies within 5 standard errors of b."""
    rng = np.random.default_rng(seed)
    n, b, sigma = 250, 1.3, 0.02
    x = rng.normal(0, 0.01, n)
    y = 2e-4 + b * x + rng.normal(0, sigma, n)
    sessions = pd.bdate_range("2024-01-02", periods=n).date
    frame = pd.DataFrame({"SPY": x, "AAA": y}, index=sessions)
    market = [d for d in load_definitions() if d.factor == "market_beta"]
    got = compute_betas(frame, market, symbols=["AAA"]).set_index("as_of_date")
    assert len(got) == n - 29
    for day, row in got.iterrows():
        end = sessions.tolist().index(day)
        xs = x[max(0, end - 89): end + 1]
        se = sigma / (xs.std() * np.sqrt(row.n_obs))
        assert abs(row.beta - b) <= 5 * se, (day, row.beta, se)
    full = FactorDefinition("market_beta", "ols", ("SPY",), 250, 250, 5.0)
    one = compute_betas(frame, [full], symbols=["AAA"])
    assert len(one) == 1
    assert abs(one.beta.iloc[0] - b) <= 4 * sigma / (x.std() * np.sqrt(n))


def test_returns_from_prices_no_forward_fill():
    sessions = pd.bdate_range("2024-03-01", periods=6).date
    prices = pd.DataFrame(
        {"A": [100.0, 101.0, np.nan, 103.0, 104.0, 104.0],
         "B": [50.0, 0.0, 51.0, 52.0, np.nan, np.nan]},
        index=sessions,
    )
    got = returns_from_prices(prices)
    a = got["A"].to_numpy()
    assert np.isnan(a[0]) and a[1] == pytest.approx(0.01)
    assert np.isnan(a[2]) and np.isnan(a[3])  # gap: no return on either side
    assert a[4] == pytest.approx(104 / 103 - 1) and a[5] == 0.0
    b = got["B"].to_numpy()
    assert np.isnan(b[1]) and np.isnan(b[2])  # non-positive price is no price
    assert b[3] == pytest.approx(52 / 51 - 1)
    assert np.isnan(b[4]) and np.isnan(b[5])
    assert got.index.equals(prices.index) and list(got.columns) == ["A", "B"]
