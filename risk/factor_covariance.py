"""EWMA (λ = 0.94) covariance of the 8 base factor ETFs as of each session (DESIGN).

On d: the rows of the 252 sessions ending on d where all 8 ETFs have a return (≥ 60,
else undefined); k = 0 for the latest such row; w_k ∝ 0.94^k normalized;
μ = Σ w x; Σ = Σ w (x − μ)(x − μ)ᵀ. Only rows ≤ d are used (no look-ahead). All
sessions at once: one strided (sessions, 252, 8) window view, the rank k of each row
from a reversed cumulative count, and two einsums.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk._common import chunks, left_padded, positions_of, session_index

FACTOR_ETFS = {"market_beta": "SPY", "ir_beta": "TLT", "value": "VTV", "growth": "VUG",
               "momentum": "MTUM", "quality": "QUAL", "size": "IWM", "low_vol": "USMV"}
FACTORS = list(FACTOR_ETFS)
COV_WINDOW, COV_MIN_ROWS, EWMA_LAMBDA = 252, 60, 0.94
OUTPUT_COLUMNS = ["as_of_date", "factor_a", "factor_b", "covariance", "correlation"]


def covariance_matrices(etf_returns: pd.DataFrame, sessions) -> np.ndarray:
    """(len(sessions), 8, 8) covariances in ``FACTORS`` order; NaN where undefined.

    ``etf_returns``: wide returns with the 8 ETF columns (index = consecutive sessions,
    251 sessions of lookback for full windows; a missing ETF column counts as missing).
    """
    index = session_index(etf_returns)
    ends = positions_of(index, sessions, "as_of_date")
    cols = [etf_returns[e].to_numpy(dtype=np.float64) if e in etf_returns
            else np.full(len(index), np.nan) for e in FACTOR_ETFS.values()]
    x = np.stack(cols)  # (8, T)
    padded = left_padded(x, COV_WINDOW)
    view = np.lib.stride_tricks.sliding_window_view(padded, COV_WINDOW, axis=1)  # (8,T,252)
    out = np.full((len(ends), 8, 8), np.nan)
    for part in chunks(len(ends), COV_WINDOW * 8):
        win = np.moveaxis(view[:, ends[part]], 0, -1)  # (N, 252, 8)
        ok = np.isfinite(win).all(axis=-1)
        n = ok.sum(axis=1)
        k = np.cumsum(ok[:, ::-1], axis=1)[:, ::-1] - 1  # rows after this one among ok
        w = np.where(ok, EWMA_LAMBDA ** np.maximum(k, 0), 0.0)
        w /= np.maximum(w.sum(axis=1, keepdims=True), np.finfo(float).tiny)
        xs = np.where(ok[..., None], win, 0.0)
        mu = np.einsum("nw,nwi->ni", w, xs)
        dev = np.where(ok[..., None], xs - mu[:, None, :], 0.0)
        cov = np.einsum("nw,nwi,nwj->nij", w, dev, dev)
        cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))  # exactly symmetric for the gate
        cov[n < COV_MIN_ROWS] = np.nan
        out[part] = cov
    return out


def correlation_from_covariance(cov: np.ndarray) -> np.ndarray:
    """Σ_ij / √(Σ_ii Σ_jj) for a stack of covariances (NaN on a zero variance)."""
    sd = np.sqrt(np.einsum("nii->ni", cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / (sd[:, :, None] * sd[:, None, :])
    return np.clip(corr, -1.0, 1.0)


def factor_covariances(etf_returns: pd.DataFrame, sessions) -> pd.DataFrame:
    """Long ``OUTPUT_COLUMNS`` (all 64 ordered factor pairs per session; NaN where the
    covariance is undefined — the caller may drop those rows)."""
    sessions = pd.Index(sessions)
    cov = covariance_matrices(etf_returns, sessions)
    corr = correlation_from_covariance(cov)
    n = len(sessions)
    return pd.DataFrame({
        "as_of_date": np.repeat(sessions.to_numpy(), 64),
        "factor_a": np.tile(np.repeat(FACTORS, 8), n),
        "factor_b": np.tile(FACTORS * 8, n),
        "covariance": cov.reshape(-1), "correlation": corr.reshape(-1),
    })


def matrices_from_frame(frame: pd.DataFrame, sessions) -> np.ndarray:
    """(len(sessions), 8, 8) covariances from a long ``fct_factor_covariances`` frame;
    a session (or pair) absent from it is NaN, i.e. undefined."""
    fi = pd.Index(FACTORS)
    si = pd.Index(sessions).get_indexer(frame["as_of_date"])
    a, b = fi.get_indexer(frame["factor_a"]), fi.get_indexer(frame["factor_b"])
    keep = (si >= 0) & (a >= 0) & (b >= 0)
    out = np.full((len(sessions), 8, 8), np.nan)
    out[si[keep], a[keep], b[keep]] = frame["covariance"].to_numpy(dtype=np.float64)[keep]
    return out
