"""Correlation summaries and pair lists against pandas ``corr(min_periods=30)`` per
(portfolio, session) window (DESIGN "Correlation summary" / "Correlation matrix")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk.correlations import correlations

RTOL = 1e-10


def symbol_returns(seed: int, n_sessions: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    market = rng.normal(3e-4, 0.01, n_sessions)
    n = 10
    r = market[:, None] * rng.uniform(-0.5, 1.5, n) + rng.normal(0, 0.012, (n_sessions, n))
    r[rng.random(r.shape) < 0.08] = np.nan
    r[: n_sessions - 45, 0] = np.nan               # young: overlap crosses 30 inside
    r[:, 1] = np.where(rng.random(n_sessions) < 0.6, np.nan, r[:, 1])  # sparse
    r[n_sessions - 100:, 2] = 0.0013               # flat lately: zero variance
    r[0] = np.nan
    cols = ["b", "B", "a2", "a10", "Z", "AA", "c", "A", "é", "MM"]  # byte order matters
    return pd.DataFrame(r, columns=cols)


def make_book(returns: pd.DataFrame, seed: int, sessions) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    syms = list(returns.columns) + ["GONE"]
    rows = []
    for p in range(3):
        for d in sessions:
            for s in rng.choice(syms, size=rng.integers(1, 9)):
                mv = rng.normal(5e3, 1e4) if rng.random() > 0.1 else 0.0
                rows.append((f"pf{p}", d, s, mv, rng.random() > 0.05))
    return pd.DataFrame(rows, columns=["portfolio_id", "snapshot_date", "risk_symbol",
                                       "market_value", "available"])


def reference(positions, targets, returns):
    """Per group: universe, pandas pairwise corr of the 90-session window, summaries."""
    summary, pairs = {}, []
    for p, d in targets.itertuples(index=False):
        t = returns.index.get_loc(d)
        g = positions[(positions.portfolio_id == p) & (positions.snapshot_date == d)]
        g = g[g.available & g.risk_symbol.isin(returns.columns) & (g.market_value != 0)]
        uni = sorted(set(g.risk_symbol), key=lambda s: s.encode())
        net = np.array([g.market_value[g.risk_symbol == s].sum() for s in uni])
        win = returns.iloc[max(0, t - 89): t + 1][uni]
        corr = win.corr(min_periods=30).to_numpy()
        counts = win.notna().astype(float).T @ win.notna().astype(float)
        rhos = []
        for i in range(len(uni)):
            for j in range(i + 1, len(uni)):
                if np.isfinite(corr[i, j]):
                    rhos.append(corr[i, j])
                    pairs.append((p, d, uni[i], uni[j], corr[i, j], int(counts.iloc[i, j])))
        R = np.where(np.isfinite(corr), corr, 0.0)
        np.fill_diagonal(R, 1.0)
        gross = np.abs(net).sum()
        quad = (net / gross) @ R @ (net / gross) if len(uni) and gross > 0 else np.nan
        summary[(p, d)] = (np.mean(rhos) if rhos else np.nan,
                           1 / quad if len(uni) and quad > 1e-12 else np.nan)
    cols = ["portfolio_id", "as_of_date", "symbol_a", "symbol_b", "correlation", "n_obs"]
    return summary, pd.DataFrame(pairs, columns=cols)


def _rel(a, b):
    if np.isnan(a) or np.isnan(b):
        return 0.0 if np.isnan(a) and np.isnan(b) else np.inf
    return abs(a - b) / max(abs(b), 1e-12)


@pytest.mark.parametrize("sessions", [list(range(0, 200, 7)) + [199], [40, 160, 199]],
                         ids=["sliding-sums", "direct-windows"])
def test_correlations_match_pandas(sessions):
    returns = symbol_returns(11)
    positions = make_book(returns, 12, sessions)
    targets = positions[["portfolio_id", "snapshot_date"]].drop_duplicates()
    targets = pd.concat([targets, pd.DataFrame({"portfolio_id": ["empty"],
                                                "snapshot_date": [199]})])
    matrix = targets[targets.snapshot_date >= 150]
    wanted_pairs = 20 if len(sessions) > 5 else 3
    summary, pairs = correlations(positions, targets, returns, matrix_targets=matrix)
    want, want_pairs = reference(positions, targets, returns)
    worst = 0.0
    for p, d, avg, eff in summary.itertuples(index=False):
        worst = max(worst, _rel(avg, want[(p, d)][0]), _rel(eff, want[(p, d)][1]))
    assert worst <= RTOL
    assert summary.avg_pairwise_correlation.notna().sum() > len(sessions)
    assert summary.avg_pairwise_correlation.isna().sum() > 1  # window start, singletons
    assert summary.correlation_effective_positions.isna().iloc[-1]  # no universe
    want_pairs = want_pairs[want_pairs.as_of_date >= 150].reset_index(drop=True)
    assert len(pairs) == len(want_pairs) > wanted_pairs
    for col in ["portfolio_id", "as_of_date", "symbol_a", "symbol_b", "n_obs"]:
        assert list(pairs[col]) == list(want_pairs[col]), col
    assert np.max(np.abs(pairs.correlation - want_pairs.correlation)
                  / np.abs(want_pairs.correlation)) <= RTOL
    assert (pairs.symbol_a.map(str.encode) < pairs.symbol_b.map(str.encode)).all()
    assert pairs.n_obs.min() >= 30


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_correlations_in_range(seed):
    returns = symbol_returns(seed, n_sessions=120)
    positions = make_book(returns, seed + 1, [119])
    targets = positions[["portfolio_id", "snapshot_date"]].drop_duplicates()
    summary, pairs = correlations(positions, targets, returns, matrix_targets=targets)
    assert ((pairs.correlation >= -1) & (pairs.correlation <= 1)).all()
    avg = summary.avg_pairwise_correlation.dropna()
    assert ((avg >= -1) & (avg <= 1)).all()
    assert (summary.correlation_effective_positions.dropna() > 0).all()


def test_correlations_do_not_depend_on_history_before_lookback():
    returns = symbol_returns(21)
    positions = make_book(returns, 22, [199])
    targets = positions[["portfolio_id", "snapshot_date"]].drop_duplicates()
    full, pairs_full = correlations(positions, targets, returns, matrix_targets=targets)
    short, pairs_short = correlations(positions, targets, returns.iloc[199 - 89:],
                                      matrix_targets=targets)
    cols = ["avg_pairwise_correlation", "correlation_effective_positions"]
    assert np.allclose(full[cols], short[cols], rtol=1e-12, atol=0, equal_nan=True)
    assert np.allclose(pairs_full.correlation, pairs_short.correlation, rtol=1e-12, atol=0)
    assert list(pairs_full.n_obs) == list(pairs_short.n_obs)


@pytest.mark.parametrize("flat", [0.0013, 0.0007, 1 / 3000, -0.0021, 0.0])
def test_constant_series_has_no_correlation(flat):
    """A symbol with a constant return on the window has zero variance: pandas gives
    NaN, so must we (rounding noise must not turn it into a number)."""
    rng = np.random.default_rng(5)
    r = rng.normal(0, 0.01, (160, 3))
    r[40:, 0] = flat  # constant on every window ending from session 129 on
    returns = pd.DataFrame(r, columns=["FLAT", "X", "Y"])
    positions = pd.DataFrame({"portfolio_id": "p", "snapshot_date": [150] * 3 + [159] * 3,
                              "risk_symbol": ["FLAT", "X", "Y"] * 2, "market_value": 1e4})
    targets = positions[["portfolio_id", "snapshot_date"]].drop_duplicates()
    summary, pairs = correlations(positions, targets, returns, matrix_targets=targets)
    assert np.isnan(returns.iloc[61:151].corr(min_periods=30).loc["FLAT", "X"])
    assert set(zip(pairs.symbol_a, pairs.symbol_b)) == {("X", "Y")}
    want = returns.iloc[61:151].corr().loc["X", "Y"]
    assert abs(summary.avg_pairwise_correlation.iloc[0] - want) <= 1e-10 * abs(want)


@pytest.mark.parametrize("universe", [["a2", "c"], ["A", "a2"], ["A", "a2", "c"]])
def test_flat_symbol_in_mixed_frame_has_no_correlation(universe):
    """The flat symbol a2 of ``symbol_returns`` (constant since session 100) on either
    side of a pair (A < a2 < c in byte order): with a session 120 target the frame mixes flat and
    varying returns, so the centered sums of the flat windows leave rounding noise that
    only the zero-variance rule removes."""
    returns = symbol_returns(11)
    positions = pd.DataFrame({"portfolio_id": "p",
                              "snapshot_date": np.repeat([120, 195, 199], len(universe)),
                              "risk_symbol": universe * 3, "market_value": 1e4,
                              "available": True})
    targets = positions[["portfolio_id", "snapshot_date"]].drop_duplicates()
    summary, pairs = correlations(positions, targets, returns, matrix_targets=targets)
    want, want_pairs = reference(positions, targets, returns)
    assert list(zip(pairs.as_of_date, pairs.symbol_a, pairs.symbol_b)) == list(
        zip(want_pairs.as_of_date, want_pairs.symbol_a, want_pairs.symbol_b))
    flat = (pairs.symbol_a == "a2") | (pairs.symbol_b == "a2")
    assert not (flat & (pairs.as_of_date > 120)).any()
    assert (flat & (pairs.as_of_date == 120)).any()
    assert np.allclose(pairs.correlation, want_pairs.correlation, rtol=1e-10, atol=0)
    for p, d, avg, eff in summary.itertuples(index=False):
        assert _rel(avg, want[(p, d)][0]) <= RTOL and _rel(eff, want[(p, d)][1]) <= RTOL
