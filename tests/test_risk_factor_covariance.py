"""EWMA factor covariance against an explicit per-session loop (DESIGN)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from risk.factor_covariance import FACTORS, covariance_matrices, factor_covariances

ETFS = ["SPY", "TLT", "VTV", "VUG", "MTUM", "QUAL", "IWM", "USMV"]


def etf_returns(seed: int, n_sessions: int = 330) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    mix = rng.normal(0, 1, (8, 8)) * 0.004
    r = rng.normal(0, 1, (n_sessions, 8)) @ mix + 2e-4
    r[rng.random(r.shape) < 0.02] = np.nan
    r[0] = np.nan
    r[:40, 5] = np.nan  # QUAL starts late
    frame = pd.DataFrame(r, columns=ETFS, index=pd.RangeIndex(500, 500 + n_sessions))
    return frame.assign(EXTRA=1.0)[["EXTRA", *ETFS[::-1]]]  # column order must not matter


def reference(returns: pd.DataFrame, d) -> np.ndarray:
    """The loop from DESIGN: usable rows of the 252 ending on d, k = 0 for the latest."""
    t = returns.index.get_loc(d)
    win = returns[ETFS].to_numpy()[max(0, t - 251): t + 1]
    rows = [x for x in win if np.isfinite(x).all()]
    if len(rows) < 60:
        return np.full((8, 8), np.nan)
    weights = []
    for k in range(len(rows)):
        weights.append(0.94 ** k)
    weights = np.array(weights[::-1]) / sum(weights)  # oldest row first
    mu = sum(w * x for w, x in zip(weights, rows))
    cov = np.zeros((8, 8))
    for w, x in zip(weights, rows):
        cov += w * np.outer(x - mu, x - mu)
    return cov


def test_covariance_matches_loop():
    returns = etf_returns(2)
    sessions = list(returns.index)
    got = covariance_matrices(returns, sessions)
    undefined = 0
    for i, d in enumerate(sessions):
        want = reference(returns, d)
        if np.isnan(want).all():
            assert np.isnan(got[i]).all()
            undefined += 1
            continue
        assert np.max(np.abs(got[i] - want)) <= 1e-9 * np.max(np.abs(want))
    assert 60 < undefined < 200


def test_long_frame_shape_and_correlation():
    returns = etf_returns(3)
    d = returns.index[-1]
    frame = factor_covariances(returns, [d])
    assert len(frame) == 64
    assert list(frame.factor_a[:8]) == ["market_beta"] * 8 and list(frame.factor_b[:8]) == FACTORS
    cov = reference(returns, d)
    sd = np.sqrt(np.diag(cov))
    want = (cov / np.outer(sd, sd)).reshape(-1)
    assert np.max(np.abs(frame.correlation - want)) <= 1e-12
    assert np.max(np.abs(frame.covariance - cov.reshape(-1))) <= 1e-9 * np.abs(cov).max()


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_covariance_is_symmetric_psd(seed):
    returns = etf_returns(seed, n_sessions=160)
    cov = covariance_matrices(returns, returns.index[-5:])
    cov = cov[np.isfinite(cov).all(axis=(1, 2))]
    assert len(cov) > 0
    assert np.array_equal(cov, np.swapaxes(cov, 1, 2))
    assert np.linalg.eigvalsh(cov).min() >= -1e-12
