"""Holdings back-cast (``holdings_vol_63d``) and position risk (DESIGN "Risk analytics").

Today's book over the last 63 sessions: w_i = MV_i(d) / equity(d), r_p,t = Σ w_i r_i,t
with missing symbol returns as 0. Each position's 63-session window of its risk
symbol's returns is gathered (strided view, per chunk of whole (portfolio, d) groups),
the book return is a segmented sum (``np.add.reduceat`` over positions sorted by
group), and the contributions w_i cov(r_i, r_p) / var(r_p) are one row-wise product:
no loop over portfolios, sessions or positions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk._common import (
    SQRT_252,
    chunks,
    entity_matrix,
    gather_windows,
    group_of,
    left_padded,
    padded_buffer,
    positions_of,
    session_index,
    window_sums,
)

BACKCAST_WINDOW, POSITION_VOL_MIN_OBS = 63, 30
PORTFOLIO_COLUMNS = ["portfolio_id", "snapshot_date", "holdings_vol_63d"]
POSITION_COLUMNS = ["portfolio_id", "position_id", "snapshot_date", "realized_vol_63d",
                    "risk_contribution"]


def symbol_rows(symbol_returns: pd.DataFrame, positions: pd.DataFrame) -> np.ndarray:
    """Row of each position's risk symbol in ``symbol_returns``, or the extra all-missing
    row ``len(columns)`` for a symbol that is absent or flagged ``available`` = False."""
    idx = pd.Index(symbol_returns.columns).get_indexer(positions["risk_symbol"])
    idx = np.where(idx < 0, len(symbol_returns.columns), idx)
    if "available" in positions:
        idx = np.where(positions["available"].to_numpy(dtype=bool), idx,
                       len(symbol_returns.columns))
    return idx.astype(np.int64)


def _symbol_session_vols(mat: np.ndarray, sidx: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Each position's ``realized_vol_63d``, from the 63-session moments of its risk
    symbol on every session (block-restarted window sums of the symbol's returns
    shifted by their mean: no cancellation), computed once per symbol."""
    used = np.zeros(mat.shape[0], dtype=bool)
    used[sidx] = True
    sym = np.flatnonzero(used)
    code = np.cumsum(used) - 1
    x = mat[sym]
    ok = np.isfinite(x)
    cnt = np.maximum(ok.sum(axis=1), 1)
    xc = np.where(ok, x - np.where(ok, x, 0.0).sum(axis=1, keepdims=True) / cnt[:, None], 0.0)
    t = x.shape[1]
    buf, f = padded_buffer((3, len(sym)), t, BACKCAST_WINDOW)
    f[0], f[1] = ok, xc
    np.multiply(xc, xc, out=f[2])
    mom = window_sums(buf, t, BACKCAST_WINDOW)[:, code[sidx], ends]  # (3, positions)
    n = np.rint(mom[0])
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (mom[2] - mom[1] ** 2 / n) / (n - 1)
    return np.where(n >= POSITION_VOL_MIN_OBS, SQRT_252 * np.sqrt(np.maximum(var, 0.0)), np.nan)


def holdings_risk(positions: pd.DataFrame, equity: pd.DataFrame,
                  symbol_returns: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(portfolio rows ``PORTFOLIO_COLUMNS``, position rows ``POSITION_COLUMNS``).

    ``positions``: the positions open on each target session — ``portfolio_id``,
    ``snapshot_date``, ``position_id``, ``risk_symbol`` (underlying for an option),
    ``market_value`` and optionally ``available`` (False: the symbol has no returns)
    and ``symbol`` (passed through). Rows come out sorted by (portfolio, d) group.
    ``equity``: ``portfolio_id``, ``snapshot_date``, ``equity``; one output row each.
    ``symbol_returns``: wide symbol returns (index = sessions, columns = symbols) with
    at least 62 sessions of lookback before the first target.
    """
    sessions = session_index(symbol_returns)
    g = group_of(equity, positions, "equity")
    order = np.argsort(g, kind="stable")
    g = g[order]
    sidx = symbol_rows(symbol_returns, positions)[order]
    ends = positions_of(sessions, positions["snapshot_date"].to_numpy()[order], "snapshot_date")
    mat = entity_matrix(symbol_returns)
    if len(ends):  # only the sessions a window needs: a daily run reads 63, not the history
        first = max(0, int(ends.min()) - BACKCAST_WINDOW + 1)
        mat, ends = mat[:, first:int(ends.max()) + 1], ends - first
    mat = np.vstack([mat, np.full((1, mat.shape[1]), np.nan)])  # unavailable symbol
    padded = left_padded(mat, BACKCAST_WINDOW)
    mv = positions["market_value"].to_numpy(dtype=np.float64)[order]
    eq = equity["equity"].to_numpy(dtype=np.float64)
    n_groups = len(eq)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = mv / eq[g]
    defined = (eq > 0) & (np.bincount(g, weights=(mv != 0), minlength=n_groups) > 0)

    pvol = _symbol_session_vols(mat, sidx, ends)
    hvol = np.full(n_groups, np.nan)
    contrib = np.full(len(g), np.nan)
    padded0 = np.nan_to_num(padded, nan=0.0)  # the back-cast counts a missing return as 0
    bounds = np.searchsorted(g, np.arange(n_groups + 1))  # position range of each group
    per_group = max(1, len(g) // max(1, n_groups)) * BACKCAST_WINDOW
    for part in chunks(n_groups, per_group):
        lo, hi = bounds[part.start], bounds[part.stop]
        if hi == lo:
            continue
        r = gather_windows(padded0, sidx[lo:hi], ends[lo:hi], BACKCAST_WINDOW)
        gl = g[lo:hi] - part.start
        starts = np.flatnonzero(np.r_[True, gl[1:] != gl[:-1]])
        book = np.zeros((part.stop - part.start, BACKCAST_WINDOW))
        with np.errstate(invalid="ignore"):
            book[gl[starts]] = np.add.reduceat(w[lo:hi, None] * r, starts, axis=0)
        ok = defined[part]
        book_c = book - book.mean(axis=1, keepdims=True)
        var_p = np.einsum("ij,ij->i", book_c, book_c) / (BACKCAST_WINDOW - 1)
        hvol[part] = np.where(ok, SQRT_252 * np.sqrt(var_p), np.nan)
        # cov(r_i, r_p) = Σ_t r_i,t (r_p,t − mean r_p) / 62: the centered book sums to 0.
        cov = np.einsum("ij,ij->i", r, book_c[gl]) / (BACKCAST_WINDOW - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = w[lo:hi] * cov / var_p[gl]
        contrib[lo:hi] = np.where(ok[gl] & (var_p[gl] > 0), c, np.nan)

    portfolio = pd.DataFrame({"portfolio_id": equity["portfolio_id"].to_numpy(),
                              "snapshot_date": equity["snapshot_date"].to_numpy(),
                              "holdings_vol_63d": hvol})
    pos = positions.iloc[order]
    position = pd.DataFrame({"portfolio_id": pos["portfolio_id"].to_numpy(),
                             "position_id": pos["position_id"].to_numpy(),
                             "snapshot_date": pos["snapshot_date"].to_numpy(),
                             "realized_vol_63d": pvol, "risk_contribution": contrib})
    if "symbol" in pos:  # the position's own symbol, passed through for the mart
        position.insert(3, "symbol", pos["symbol"].to_numpy())
    return portfolio, position
