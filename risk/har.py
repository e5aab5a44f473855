"""HAR-RV volatility forecasts (Corsi 2009, direct projection), DESIGN "Risk analytics".

RV_t = r_t²; x_t = [1, RV_t, mean RV over the 5 / 22 sessions ending t] where t has
returns on all 22 sessions ending t; y_t = mean(RV_{t+1..t+h}). The fit for d uses the
rows t of the 252 sessions ending on d − h where x_t and y_t exist (≥ 60), OLS of y on
x, forecast ŷ = x_d·b, vol = √(252 max(ŷ, 0)).

Vectorization: the per-row cross products of the shifted regressors and target are
accumulated with cumulative sums along the session axis, so every fit window's
normal equations are two lookups; the slopes come from one batched 3×3 solve of the
centered equations and the intercept from the means (no loop over portfolios,
sessions or windows).

Precision guard: values are shifted by each portfolio's mean before the cumulative
sums, so the window differences do not cancel; an a-priori error estimate
(cumsum rounding × the centered system's condition number) sends every window that
could miss 1e-10 (near-singular or degenerate, e.g. a flat or cash book) to an exact
fallback: a batched SVD of that window's own rows with ``np.linalg.lstsq``'s
rank cut-off (rcond = eps × max(rows, 4)), i.e. its minimum-norm solution.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk._common import chunks, entity_matrix, gather_windows, left_padded, target_positions

HORIZONS = (1, 21)
FIT_WINDOW, FIT_MIN_ROWS, REGRESSOR_WINDOW = 252, 60, 22
OUTPUT_COLUMNS = ["portfolio_id", "snapshot_date", "har_vol_1d", "har_vol_21d"]
_EPS = np.finfo(np.float64).eps
_MAX_REL_ERR = 1e-12  # a-priori error estimate above which a window is refit exactly
_PAIRS = [(i, j) for i in range(3) for j in range(i, 3)]  # upper triangle of z zᵀ


def _rolling_mean(mat: np.ndarray, width: int) -> np.ndarray:
    """Mean over the ``width`` sessions ending on each t (NaN if any is missing)."""
    view = np.lib.stride_tricks.sliding_window_view(left_padded(mat, width), width, axis=1)
    return view.mean(axis=-1)


def har_features(returns_mat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(regressors z = [RV, RV5, RV22] of shape (P, T, 3), RV of shape (P, T)).

    z is NaN on every session without returns on all 22 sessions ending on it."""
    rv = returns_mat * returns_mat
    rv22 = _rolling_mean(rv, REGRESSOR_WINDOW)  # NaN unless all 22 exist
    z = np.stack([rv, _rolling_mean(rv, 5), rv22], axis=-1)
    z[~np.isfinite(rv22)] = np.nan
    return z, rv


def har_targets(rv: np.ndarray, h: int) -> np.ndarray:
    """y_t = mean(RV_{t+1..t+h}) (P, T); NaN when one is missing or beyond the frame."""
    padded = np.concatenate([rv[:, 1:], np.full((rv.shape[0], h), np.nan)], axis=1)
    view = np.lib.stride_tricks.sliding_window_view(padded, h, axis=1)[:, : rv.shape[1]]
    return view.mean(axis=-1)


def _windowed_sums(z: np.ndarray, y: np.ndarray, rows: np.ndarray, last: np.ndarray):
    """Sums over the rows t ∈ (last − 252, last] with x_t and y_t, per target.

    Returns count n, Σz (N,3), Σy, Σzzᵀ (N,3,3), Σzy (N,3) of the shifted values and the
    cumulative Σz² up to the window end (for the rounding estimate)."""
    ok = np.isfinite(z).all(axis=-1) & np.isfinite(y)
    zz = np.where(ok[..., None], z, 0.0)
    yy = np.where(ok, y, 0.0)
    cols = [ok.astype(np.float64), *np.moveaxis(zz, -1, 0), yy]
    cols += [zz[..., i] * zz[..., j] for i, j in _PAIRS]
    cols += [zz[..., i] * yy for i in range(3)]
    feats = np.stack(cols, axis=-1)  # (P, T, 14)
    cum = np.concatenate([np.zeros((feats.shape[0], 1, feats.shape[2])),
                          np.cumsum(feats, axis=1)], axis=1)
    hi = np.clip(last + 1, 0, None)
    lo = np.clip(last + 1 - FIT_WINDOW, 0, None)
    s = cum[rows, hi] - cum[rows, lo]
    n = np.rint(s[:, 0])
    sz, sy = s[:, 1:4], s[:, 4]
    szz = np.empty((len(s), 3, 3))
    for k, (i, j) in enumerate(_PAIRS):
        szz[:, i, j] = szz[:, j, i] = s[:, 5 + k]
    szy = s[:, 11:14]
    cum_sq = cum[rows, hi][:, [5, 8, 10]]  # Σ z_i² from the frame start: rounding scale
    return n, sz, sy, szz, szy, cum_sq


def _exact_fit(z_raw: np.ndarray, y_raw: np.ndarray, rows: np.ndarray, last: np.ndarray,
               x_d: np.ndarray) -> np.ndarray:
    """ŷ from each window's own rows by batched SVD with lstsq's minimum-norm cut-off."""
    out = np.full(len(rows), np.nan)
    zp = np.concatenate([np.full((z_raw.shape[0], FIT_WINDOW - 1, 3), np.nan), z_raw], axis=1)
    yp = left_padded(y_raw, FIT_WINDOW)
    for part in chunks(len(rows), FIT_WINDOW * 5):
        r, e = rows[part], last[part]
        zw = np.lib.stride_tricks.sliding_window_view(zp, FIT_WINDOW, axis=1)[r, e]
        zw = np.moveaxis(zw, -1, 1)  # (N, 252, 3)
        yw = gather_windows(yp, r, e, FIT_WINDOW)
        ok = np.isfinite(zw).all(axis=-1) & np.isfinite(yw)
        x = np.concatenate([np.ones(ok.shape + (1,)), zw], axis=-1)
        x = np.where(ok[..., None], x, 0.0)  # zero rows change neither XᵀX nor Xᵀy
        yv = np.where(ok, yw, 0.0)
        u, sv, vt = np.linalg.svd(x, full_matrices=False)
        cut = _EPS * np.maximum(ok.sum(axis=1), 4)[:, None] * sv[:, :1]
        inv = np.where(sv > cut, 1.0 / np.where(sv > 0, sv, 1.0), 0.0)
        uty = np.einsum("nwk,nw->nk", u, yv)
        b = np.einsum("nkj,nk->nj", vt, inv * uty)
        out[part] = np.einsum("nj,nj->n", x_d[part], b)
    return out


def _forecast(z: np.ndarray, rv: np.ndarray, rows: np.ndarray, ends: np.ndarray,
              h: int) -> np.ndarray:
    """ŷ for horizon h per target (NaN where undefined)."""
    y = har_targets(rv, h)
    ok_rows = np.isfinite(z).all(axis=-1) & np.isfinite(y)
    # Shift by each portfolio's mean over its usable rows: windows then barely cancel.
    cnt = np.maximum(ok_rows.sum(axis=1), 1)
    cz = np.where(ok_rows[..., None], z, 0.0).sum(axis=1) / cnt[:, None]
    cy = np.where(ok_rows, y, 0.0).sum(axis=1) / cnt
    zs, ys = z - cz[:, None, :], y - cy[:, None]
    last = ends - h
    n, sz, sy, szz, szy, cum_sq = _windowed_sums(zs, ys, rows, last)

    zd = z[rows, ends]
    fit = (n >= FIT_MIN_ROWS) & np.isfinite(zd).all(axis=1) & (last >= 0)
    out = np.full(len(rows), np.nan)
    nn = np.where(fit, n, 1.0)
    mz, my = sz / nn[:, None], sy / nn
    cxx = szz - nn[:, None, None] * mz[:, :, None] * mz[:, None, :]
    cxy = szy - nn[:, None] * mz * my[:, None]
    diag = np.einsum("nii->ni", cxx)
    good = fit & (diag > 0).all(axis=1)
    scale = np.sqrt(np.where(good[:, None], diag, 1.0))
    corr = cxx / (scale[:, :, None] * scale[:, None, :])
    eig = np.linalg.eigvalsh(np.where(good[:, None, None], corr, np.eye(3)))
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = eig[:, -1] / eig[:, 0]
        rounding = _EPS * np.sqrt(z.shape[1]) * (cum_sq / np.where(good[:, None], diag, 1.0))
        err = cond * rounding.max(axis=1)
    good &= np.isfinite(err) & (eig[:, 0] > 0) & (err <= _MAX_REL_ERR)
    if good.any():
        beta = np.linalg.solve(cxx[good], cxy[good][..., None])[..., 0]
        zd_s = zd[good] - cz[rows[good]]
        out[good] = cy[rows[good]] + my[good] + np.einsum(
            "nj,nj->n", zd_s - mz[good], beta)
    exact = fit & ~good
    if exact.any():
        x_d = np.concatenate([np.ones((exact.sum(), 1)), zd[exact]], axis=1)
        out[exact] = _exact_fit(z, y, rows[exact], last[exact], x_d)
    return out


def har_forecasts(returns: pd.DataFrame, targets: pd.DataFrame) -> pd.DataFrame:
    """``har_vol_1d`` and ``har_vol_21d`` for every target (portfolio_id, snapshot_date).

    ``returns`` as in ``portfolio_return_stats`` (the frame should start 252 + 21 + 22
    sessions before the first target for full windows; earlier rows count as missing).
    """
    rows, ends = target_positions(returns, targets)
    mat = entity_matrix(returns)
    # Only the portfolios with targets are featurized.
    used, inverse = np.unique(rows, return_inverse=True)
    z, rv = har_features(mat[used])
    out = {"portfolio_id": targets["portfolio_id"].to_numpy(),
           "snapshot_date": targets["snapshot_date"].to_numpy()}
    for h in HORIZONS:
        yhat = _forecast(z, rv, inverse, ends, h)
        out[f"har_vol_{h}d"] = np.sqrt(252.0 * np.maximum(yhat, 0.0))
    return pd.DataFrame(out)
