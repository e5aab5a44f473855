"""Vectorized rolling factor regressions.

For one fit group, the requested pairs span a (sessions E x symbols S) rectangle.
Regressor windows depend only on the session, so their features (centered values,
cross-products, value ranks) are built once per session, shape (E, w, F); each
symbol's windowed sums over its usable rows are then one batched GEMM
``mask (E, S, w) @ features (E, w, F)``, followed by closed-form OLS or a batched
``np.linalg.solve`` of the standardized ridge normal equations. There is no Python
loop over windows or dates, only over fit groups and blocks of symbols (memory).

Precision: sums are taken per window (no running cumsums, so history length does not
matter); y is centered two-pass on each window's own usable rows; x is centered on the
window mean before cross-products are formed. Matches per-window scikit-learn to
~1e-13 on the test data (requirement: 1e-8).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

import numpy as np
import pandas as pd

from snapfolio.core.factor_definitions import FactorDefinition, FitGroup, fit_groups

OUTPUT_COLUMNS = ["symbol", "as_of_date", "factor", "beta", "r_squared", "n_obs"]
_EPS = np.finfo(np.float64).eps
_CHUNK_CELLS = 4_000_000  # window cells per chunk: bounds memory at ~100-300 MB


def returns_from_prices(prices: pd.DataFrame) -> pd.DataFrame:
    """Daily simple returns from adjusted closes on consecutive sessions.

    ``prices`` has one row per session (every session present, sorted) and one column
    per symbol. The return of session s exists only when the prices of s and of the
    previous row both exist (and are positive): no forward fill, so a stale price can
    never manufacture a return. The first row is always NaN.
    """
    values = prices.to_numpy(dtype=np.float64, na_value=np.nan)
    out = np.full(values.shape, np.nan)
    prev, cur = values[:-1], values[1:]
    ok = np.isfinite(prev) & np.isfinite(cur) & (prev > 0) & (cur > 0)
    out[1:][ok] = cur[ok] / prev[ok] - 1.0
    return pd.DataFrame(out, index=prices.index, columns=prices.columns)


def compute_betas(
    returns: pd.DataFrame,
    definitions: list[FactorDefinition],
    target_sessions: Mapping[str, Iterable[date]] | None = None,
    symbols: list[str] | None = None,
) -> pd.DataFrame:
    """Betas for every requested (symbol, session, factor) with enough observations.

    ``returns``: wide frame, index = consecutive sessions (sorted, none missing),
    columns = symbols incl. the regressor ETFs, NaN = no return. The window of d is
    the ``window`` rows ending on d; rows before the frame start count as missing, so
    the caller must prepend ``window - 1`` sessions of lookback. A regressor column
    absent from the frame counts as all-missing (its factors then produce no rows).

    ``target_sessions`` maps symbol -> sessions to compute (only those are computed);
    without it, every session of every symbol in ``symbols`` (default: all columns).

    Returns a long frame with ``OUTPUT_COLUMNS``; pairs with fewer than ``min_obs``
    usable rows (or a constant OLS regressor) are absent. ``beta`` is capped at
    ±cap; ``r_squared`` is the in-sample R² of the uncapped fit (0 when y is constant).
    """
    index = pd.Index(returns.index)
    if not (index.is_unique and index.is_monotonic_increasing):
        raise ValueError("returns index must be unique, sorted sessions")
    pos = pd.Series(np.arange(len(index)), index=index)
    columns = list(returns.columns)
    col_pos = {c: i for i, c in enumerate(columns)}

    if target_sessions is not None:
        sym_list, end_list = [], []
        for sym, sessions in target_sessions.items():
            if sym not in col_pos:
                raise KeyError(f"symbol {sym!r} not in returns columns")
            ends = pos.reindex(list(sessions))
            if ends.isna().any():
                missing = list(ends.index[ends.isna()][:3])
                raise ValueError(f"{sym}: sessions not in returns index: {missing}")
            end_list.append(np.unique(ends.to_numpy(dtype=np.int64)))
            sym_list.append(np.full(len(end_list[-1]), col_pos[sym]))
        pair_sym = np.concatenate(sym_list) if sym_list else np.empty(0, np.int64)
        pair_end = np.concatenate(end_list) if end_list else np.empty(0, np.int64)
    else:
        wanted = symbols if symbols is not None else columns
        sym_idx = np.array([col_pos[s] for s in wanted], dtype=np.int64)
        pair_sym = np.repeat(sym_idx, len(index))
        pair_end = np.tile(np.arange(len(index)), len(sym_idx))

    # (symbols, sessions) layout: a window of one symbol is a contiguous slice.
    y_all = np.ascontiguousarray(returns.to_numpy(dtype=np.float64, na_value=np.nan).T)
    sessions_arr = np.asarray(index, dtype=object)
    symbols_arr = np.asarray(columns, dtype=object)

    frames = []
    for group in fit_groups(definitions) if len(pair_sym) else []:
        x = _regressor_matrix(returns, group)
        frames.extend(_fit_group(group, x, y_all, pair_sym, pair_end, sessions_arr, symbols_arr))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            OUTPUT_COLUMNS, [object, object, object, float, float, np.int64])})
    return pd.concat(frames, ignore_index=True)


def _regressor_matrix(returns: pd.DataFrame, group: FitGroup) -> np.ndarray:
    """(sessions, k) regressor returns; a spread is the difference of its two legs."""
    def col(sym: str) -> np.ndarray:
        if sym not in returns.columns:
            return np.full(len(returns), np.nan)
        return returns[sym].to_numpy(dtype=np.float64, na_value=np.nan)

    if group.method == "spread":
        return (col(group.regressors[0]) - col(group.regressors[1]))[:, None]
    return np.column_stack([col(s) for s in group.regressors])


def _window_features(
    x: np.ndarray, window: int, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-session (not per-symbol) regressor windows for the requested end sessions.

    Returns ``ok`` (E, w): regressors present; ``center`` (E, k): mean of x over those
    rows; ``u`` (E, w, k) = x - center (0 where absent); ``phi`` (E, w, F) = [u, u_i u_j
    (i <= j), rank, rank²]. Every symbol's masked window sums are then one batched
    GEMM ``mask @ phi``. Centering on the window's own mean keeps the one-pass
    covariance well conditioned; integer value ranks make the constant-regressor test
    exact (n Σr² - (Σr)² == 0 iff all used values are equal; integer sums stay exact
    in float64 for histories up to ~10^5 sessions).
    """
    k = x.shape[1]
    x_ok = np.isfinite(x).all(axis=1)
    x0 = np.where(x_ok[:, None], x, 0.0)
    ranks = np.zeros_like(x0)
    for j in range(k):  # k <= a handful of regressors, not windows
        ranks[x_ok, j] = np.unique(x0[x_ok, j], return_inverse=True)[1] + 1.0

    def windows(a: np.ndarray) -> np.ndarray:
        padded = np.concatenate([np.zeros((window - 1, *a.shape[1:]), a.dtype), a])
        return padded[ends[:, None] + np.arange(window)]

    ok, xw, rw = windows(x_ok), windows(x0), windows(ranks)
    center = xw.sum(axis=1) / np.maximum(ok.sum(axis=1), 1)[:, None]
    u = np.where(ok[:, :, None], xw - center[:, None, :], 0.0)
    iu, ju = np.triu_indices(k)
    phi = np.concatenate([u, u[..., iu] * u[..., ju], rw, rw * rw], axis=-1)
    return ok, center, u, phi


def _fit_group(
    group: FitGroup,
    x: np.ndarray,
    y_all: np.ndarray,
    pair_sym: np.ndarray,
    pair_end: np.ndarray,
    sessions_arr: np.ndarray,
    symbols_arr: np.ndarray,
) -> list[pd.DataFrame]:
    """Fit one group for the (symbols x end sessions) rectangle spanning the requested
    pairs, in blocks of symbols; returns one frame per output factor (requested only)."""
    w, k = group.window, x.shape[1]
    syms, sym_pos = np.unique(pair_sym, return_inverse=True)
    ends, end_pos = np.unique(pair_end, return_inverse=True)
    requested = np.zeros((len(syms), len(ends)), dtype=bool)
    requested[sym_pos, end_pos] = True
    x_okw, center, u, phi = _window_features(x, w, ends)
    iu, ju = np.triu_indices(k)
    nt = len(iu)
    y_pad = np.hstack([np.full((y_all.shape[0], w - 1), np.nan), y_all])
    rows = ends[:, None] + np.arange(w)

    block = max(1, _CHUNK_CELLS // (len(ends) * w))
    parts: dict[str, list[tuple[np.ndarray, ...]]] = {f: [] for f, _, _ in group.outputs}
    for start in range(0, len(syms), block):
        bsyms = syms[start:start + block]
        yw = y_pad[bsyms[None, :, None], rows[:, None, :]]  # (E, S, w)
        mask = np.isfinite(yw) & x_okw[:, None, :]
        n = mask.sum(axis=2)
        sel = ((n >= group.min_obs) & requested[start:start + block].T).T  # (S, E)
        if not sel.any():
            continue
        s_idx, e_idx = np.nonzero(sel)
        # y: exact two-pass centering per (session, symbol) window.
        m = mask.astype(np.float64)
        y0 = np.where(mask, yw, 0.0)
        my = y0.sum(axis=2) / np.maximum(n, 1)
        yc = (y0 - my[:, :, None]) * m
        syy = np.einsum("esw,esw->es", yc, yc)[e_idx, s_idx]
        ysum = yc.sum(axis=2)[e_idx, s_idx]
        moments = np.matmul(m, phi)[e_idx, s_idx]  # (P, F)
        uy = np.matmul(yc, u)[e_idx, s_idx]  # (P, k)

        nf = n[e_idx, s_idx].astype(np.float64)
        ubar = moments[:, :k] / nf[:, None]
        sxx = np.empty((len(nf), k, k))
        sxx[:, iu, ju] = moments[:, k:k + nt]
        sxx[:, ju, iu] = moments[:, k:k + nt]
        sxx -= nf[:, None, None] * ubar[:, :, None] * ubar[:, None, :]
        sxy = uy - ubar * ysum[:, None]
        r_sum, r_sq = moments[:, k + nt:k + nt + k], moments[:, k + nt + k:]
        var = np.maximum(np.diagonal(sxx, axis1=1, axis2=2), 0.0) / nf[:, None]
        mean = center[e_idx] + ubar
        # y constant (sklearn's bound): then there is nothing to explain, r² = 0.
        var_y = syy / nf
        y_varies = var_y > nf * _EPS * var_y + (nf * my[e_idx, s_idx] * _EPS) ** 2
        constant = (nf[:, None] * r_sq - r_sum * r_sum == 0) | (
            var <= nf[:, None] * _EPS * var + (nf[:, None] * mean * _EPS) ** 2)

        coef, r2, ok = _solve(group, sxx, sxy, syy, var, constant, y_varies)
        ps, pe = bsyms[s_idx[ok]], ends[e_idx[ok]]
        for factor, j, cap in group.outputs:
            parts[factor].append((ps, pe, np.clip(coef[ok, j], -cap, cap), r2[ok],
                                  n[e_idx[ok], s_idx[ok]]))

    frames = []
    for factor, pieces in parts.items():
        if not pieces:
            continue
        ps, pe, beta, r2, n = (np.concatenate(a) for a in zip(*pieces))
        frames.append(pd.DataFrame({
            "symbol": symbols_arr[ps],
            "as_of_date": sessions_arr[pe],
            "factor": factor,
            "beta": beta,
            "r_squared": r2,
            "n_obs": n.astype(np.int64),
        }))
    return frames


def _solve(
    group: FitGroup,
    sxx: np.ndarray,
    sxy: np.ndarray,
    syy: np.ndarray,
    var: np.ndarray,
    constant: np.ndarray,
    y_varies: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficients from centered moments: (coef (P, k), r² (P,), usable (P,))."""
    if group.method in ("ols", "spread"):
        ok = ~constant[:, 0]
        denom = np.where(ok, sxx[:, 0, 0], 1.0)
        coef = (sxy[:, 0] / denom)[:, None]
        explained = sxy[:, 0] * coef[:, 0]
    else:
        # StandardScaler (population std, scale 1 when constant) then Ridge(alpha):
        # (ZᵀZ + αI) w = Zᵀy with Z = Xc / s; raw-unit coefficient = w / s.
        ok = np.ones(len(syy), dtype=bool)
        # A constant column is exactly zero once centered: drop its rounding residue so
        # its coefficient is 0 (sklearn gets ~1e-18 there).
        sxx = np.where(constant[:, :, None] | constant[:, None, :], 0.0, sxx)
        sxy = np.where(constant, 0.0, sxy)
        scale = np.where(constant, 1.0, np.sqrt(var))
        gram = sxx / (scale[:, :, None] * scale[:, None, :])
        zy = sxy / scale
        lhs = gram + group.alpha * np.eye(sxx.shape[1])
        w = np.linalg.solve(lhs, zy[:, :, None])[:, :, 0]
        coef = w / scale
        # Residual SS = syy - 2 wᵀZᵀy + wᵀZᵀZw  =>  explained = 2 wᵀZᵀy - wᵀZᵀZw.
        explained = 2 * np.einsum("pk,pk->p", w, zy) - np.einsum("pi,pij,pj->p", w, gram, w)
    varies = y_varies & (syy > 0)
    r2 = np.where(varies, explained / np.where(varies, syy, 1.0), 0.0)
    return coef, r2, ok
