"""HAR-RV volatility forecasts (Corsi 2009, direct projection), DESIGN "Risk analytics".

RV_t = r_t²; x_t = [1, RV_t, mean RV over the 5 / 22 sessions ending t] where t has
returns on all 22 sessions ending t; y_t = mean(RV_{t+1..t+h}). The fit for d uses the
rows t of the 252 sessions ending on d − h where x_t and y_t exist (≥ 60), OLS of y on
x, forecast ŷ = x_d·b, vol = √(252 max(ŷ, 0)).

Vectorization: the per-row cross products of the shifted regressors and target are
accumulated with prefix sums along the session axis that restart every 252 sessions,
so every fit window's normal equations are two lookups (a window spans at most two
blocks: rounding does not grow with the history). The slopes come from closed-form
(cofactor) inverses of the centered 3×3 equations scaled to a correlation matrix, the
intercept from the means; no loop over portfolios, sessions or windows (only over
blocks of portfolios, for memory).

Precision guard: values are shifted by each portfolio's mean first, so the window
differences do not cancel; an a-priori error estimate (prefix-sum rounding × the
scaled system's 1-norm condition number) sends every window that could miss 1e-10
(near-singular or degenerate, e.g. a flat or cash book) to an exact fallback: a
batched SVD of that window's own rows with ``np.linalg.lstsq``'s rank cut-off
(rcond = eps × max(rows, 4)), i.e. lstsq's minimum-norm solution.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk._common import chunks, entity_matrix, gather_windows, left_padded, target_positions

HORIZONS = (1, 21)
FIT_WINDOW, FIT_MIN_ROWS, REGRESSOR_WINDOW = 252, 60, 22
# Sessions before d any forecast on d reads: the fit window of h = 21 starts at
# d − 21 − 251, and its first x_t needs the 21 returns before it.
LOOKBACK = max(HORIZONS) + FIT_WINDOW - 1 + REGRESSOR_WINDOW - 1
OUTPUT_COLUMNS = ["portfolio_id", "snapshot_date", "har_vol_1d", "har_vol_21d"]
_EPS = np.finfo(np.float64).eps
_BLOCK_CELLS = 600_000  # session × feature cells per block of portfolios (~5 MB arrays)
_MAX_REL_ERR = 1e-11  # a-priori error estimate above which a window is refit exactly
_PAIRS = [(i, j) for i in range(3) for j in range(i, 3)]  # upper triangle of z zᵀ


def _rolling_mean(mat: np.ndarray, width: int) -> np.ndarray:
    """Mean over the ``width`` sessions ending on each t (NaN if any is missing)."""
    view = np.lib.stride_tricks.sliding_window_view(left_padded(mat, width), width, axis=1)
    return view.mean(axis=-1)


def har_features(returns_mat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(regressors z = [RV, RV5, RV22] of shape (3, P, T), RV of shape (P, T)).

    Feature-major so that every later pass runs along contiguous sessions. z is NaN
    (all three) on every session without returns on all 22 sessions ending on it."""
    rv = returns_mat * returns_mat
    rv22 = _rolling_mean(rv, REGRESSOR_WINDOW)  # NaN unless all 22 exist
    z = np.stack([rv, _rolling_mean(rv, 5), rv22])
    z[:, ~np.isfinite(rv22)] = np.nan
    return z, rv


def har_targets(rv: np.ndarray, h: int) -> np.ndarray:
    """y_t = mean(RV_{t+1..t+h}) (P, T); NaN when one is missing or beyond the frame."""
    padded = np.concatenate([rv[:, 1:], np.full((rv.shape[0], h), np.nan)], axis=1)
    view = np.lib.stride_tricks.sliding_window_view(padded, h, axis=1)[:, : rv.shape[1]]
    return view.mean(axis=-1)


def _windowed_sums(z: np.ndarray, y: np.ndarray, rows: np.ndarray, last: np.ndarray):
    """Sums over the rows t ∈ (last − 252, last] with x_t and y_t, per target.

    The per-row products are summed from prefix sums that restart every 252 sessions:
    a window spans at most two blocks, so the rounding of the differences is bounded
    by two blocks' sums whatever the history length. Returns (14, N) sums — count,
    Σz (3), Σy, Σz_i z_j (the 6 of ``_PAIRS``), Σz y (3) — of the (shifted) values and
    (3, N) Σz_i² of the blocks used (the rounding scale for the error estimate)."""
    p, t = y.shape
    b = FIT_WINDOW
    nb = -(-t // b) + 2  # one leading block of zeros: every window is b rows wide
    feats = np.zeros((14, p, nb * b))
    ok = np.isfinite(z[2]) & np.isfinite(y)
    zz = np.where(ok, z, 0.0)
    yy = np.where(ok, y, 0.0)
    f = feats[:, :, b:b + t]
    f[0] = ok
    f[1:4] = zz
    f[4] = yy
    for k, (i, j) in enumerate(_PAIRS):
        np.multiply(zz[i], zz[j], out=f[5 + k])
    np.multiply(zz, yy, out=f[11:14])
    blocks = feats.reshape(14, p, nb, b)
    totals = blocks.sum(axis=3)  # (14, p, nb)
    excl = np.cumsum(blocks, axis=3)
    excl -= blocks  # exclusive prefix within each block
    # Window [hi - b, hi) in padded coordinates, hi = k b + o: the head of block k before
    # o plus the rest of block k − 1 from o — same offset, so all windows at once with
    # contiguous array ops, then one gather per target.
    win = excl[:, :, 1:] + (totals[:, :, :-1, None] - excl[:, :, :-1])  # (14, p, nb-1, b)
    sq = totals[[5, 8, 10]]
    wscale = sq[:, :, 1:, None] + sq[:, :, :-1, None]  # Σz² of the two blocks (3,p,nb-1,1)
    hi = np.clip(last + 1, 0, None) + b
    k, o = hi // b, hi % b
    s = win[:, rows, k - 1, o]
    scale = wscale[:, rows, k - 1, 0]
    return s, scale


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
    """ŷ for horizon h per target (NaN where undefined).

    The slopes solve the centered normal equations scaled to a correlation matrix,
    inverted by cofactors column by column (elementwise over targets: no per-matrix
    LAPACK call, no reductions over tiny axes)."""
    y = har_targets(rv, h)
    ok_rows = np.isfinite(z[2]) & np.isfinite(y)  # z is NaN on all 3 features at once
    # Shift by each portfolio's mean over its usable rows: windows then barely cancel.
    cnt = np.maximum(ok_rows.sum(axis=1), 1)
    cz = np.where(ok_rows, z, 0.0).sum(axis=2) / cnt  # (3, P)
    cy = np.where(ok_rows, y, 0.0).sum(axis=1) / cnt
    last = ends - h
    s, rscale = _windowed_sums(z - cz[:, :, None], y - cy[:, None], rows, last)

    n = np.rint(s[0])
    zd = z[:, rows, ends] - cz[:, rows]
    fit = (n >= FIT_MIN_ROWS) & np.isfinite(zd[2]) & (last >= 0)
    out = np.full(len(rows), np.nan)
    nn = np.where(fit, n, 1.0)
    m = [s[1 + i] / nn for i in range(3)]
    my = s[4] / nn
    q = {pair: s[5 + k] for k, pair in enumerate(_PAIRS)}
    cov = {(i, j): q[(i, j)] - nn * m[i] * m[j] for i, j in _PAIRS}
    cxy = [s[11 + i] - nn * m[i] * my for i in range(3)]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        good = fit & (cov[(0, 0)] > 0) & (cov[(1, 1)] > 0) & (cov[(2, 2)] > 0)
        sd = [np.sqrt(np.where(good, cov[(i, i)], 1.0)) for i in range(3)]
        a01 = cov[(0, 1)] / (sd[0] * sd[1])
        a02 = cov[(0, 2)] / (sd[0] * sd[2])
        a12 = cov[(1, 2)] / (sd[1] * sd[2])
        c00, c11, c22 = 1.0 - a12 * a12, 1.0 - a02 * a02, 1.0 - a01 * a01
        c01, c02, c12 = a02 * a12 - a01, a01 * a12 - a02, a01 * a02 - a12
        det = c00 + a01 * c01 + a02 * c02
        b01, b02, b12 = np.abs(a01), np.abs(a02), np.abs(a12)
        norm_a = np.maximum(np.maximum(1 + b01 + b02, 1 + b01 + b12), 1 + b02 + b12)
        e00, e11, e22 = np.abs(c00), np.abs(c11), np.abs(c22)
        e01, e02, e12 = np.abs(c01), np.abs(c02), np.abs(c12)
        norm_adj = np.maximum(np.maximum(e00 + e01 + e02, e01 + e11 + e12), e02 + e12 + e22)
        cond = norm_a * norm_adj / np.abs(det)
        rel = np.maximum(np.maximum(rscale[0] / sd[0] ** 2, rscale[1] / sd[1] ** 2),
                         rscale[2] / sd[2] ** 2)
        err = cond * (_EPS * np.sqrt(FIT_WINDOW) * rel + 16 * _EPS)
        good &= (det > 0) & (c22 > 0) & np.isfinite(err) & (err <= _MAX_REL_ERR)
        g0, g1, g2 = (cxy[i] / sd[i] for i in range(3))
        beta0 = (c00 * g0 + c01 * g1 + c02 * g2) / det / sd[0]
        beta1 = (c01 * g0 + c11 * g1 + c12 * g2) / det / sd[1]
        beta2 = (c02 * g0 + c12 * g1 + c22 * g2) / det / sd[2]
        yhat = (cy[rows] + my + (zd[0] - m[0]) * beta0 + (zd[1] - m[1]) * beta1
                + (zd[2] - m[2]) * beta2)
    out[good] = yhat[good]
    exact = fit & ~good
    if exact.any():
        x_d = np.concatenate([np.ones((exact.sum(), 1)), z[:, rows[exact], ends[exact]].T],
                             axis=1)
        out[exact] = _exact_fit(np.moveaxis(z, 0, -1), y, rows[exact], last[exact], x_d)
    return out


def har_forecasts(returns: pd.DataFrame, targets: pd.DataFrame) -> pd.DataFrame:
    """``har_vol_1d`` and ``har_vol_21d`` for every target (portfolio_id, snapshot_date).

    ``returns`` as in ``portfolio_return_stats``; full windows need ``LOOKBACK`` (293)
    sessions before the first target (earlier rows count as missing; rows beyond that
    are not read).
    """
    rows, ends = target_positions(returns, targets)
    mat = entity_matrix(returns)
    if len(ends):  # only the sessions some window needs (a daily run needs ~300)
        first = max(0, int(ends.min()) - LOOKBACK)
        mat, ends = mat[:, first:int(ends.max()) + 1], ends - first
    out = {"portfolio_id": targets["portfolio_id"].to_numpy(),
           "snapshot_date": targets["snapshot_date"].to_numpy()}
    yhat = {h: np.full(len(rows), np.nan) for h in HORIZONS}
    # Blocks of portfolios keep the (P, T, 14) work arrays small (cache- and
    # page-fault-friendly); only the portfolios with targets are featurized.
    used = np.unique(rows)
    order = np.argsort(rows, kind="stable")
    bounds = np.searchsorted(rows[order], used)
    per_block = max(1, _BLOCK_CELLS // (mat.shape[1] * 14))
    for b0 in range(0, len(used), per_block):
        block = used[b0:b0 + per_block]
        lo = bounds[b0]
        hi = bounds[b0 + per_block] if b0 + per_block < len(used) else len(rows)
        sel = order[lo:hi]
        local = np.searchsorted(block, rows[sel])
        z, rv = har_features(mat[block])
        for h in HORIZONS:
            yhat[h][sel] = _forecast(z, rv, local, ends[sel], h)
    for h in HORIZONS:
        out[f"har_vol_{h}d"] = np.sqrt(252.0 * np.maximum(yhat[h], 0.0))
    return pd.DataFrame(out)
