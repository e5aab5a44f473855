"""Portfolio return statistics: realized volatility and historical VaR / CVaR.

Every target's 252-session window is gathered once (a strided view, copied per
chunk); the 21- and 63-session windows are its tails. VaR sorts each window with the
missing returns pushed to the end (``np.sort`` puts NaN last) and interpolates at the
window's own count with numpy's default "linear" quantile, so no loop over windows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk._common import (
    SQRT_252,
    chunks,
    entity_matrix,
    gather_windows,
    left_padded,
    target_positions,
)

VAR_WINDOW, VAR_MIN_OBS, VAR_LEVEL = 252, 60, 0.05
OUTPUT_COLUMNS = ["portfolio_id", "snapshot_date", "realized_vol_21d", "realized_vol_63d",
                  "var_95_1d", "cvar_95_1d"]


def _full_window_vol(windows: np.ndarray) -> np.ndarray:
    """√252 × sample std where every session of the window has a return, else NaN."""
    complete = np.isfinite(windows).all(axis=1)
    out = np.full(len(windows), np.nan)
    if complete.any():
        out[complete] = SQRT_252 * np.std(windows[complete], axis=1, ddof=1)
    return out


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """numpy's quantile interpolation (the same two-sided formula, for bit closeness)."""
    diff = b - a
    out = a + diff * t
    upper = t >= 0.5
    out[upper] = (b - diff * (1.0 - t))[upper]
    return out


def var_cvar(windows: np.ndarray, level: float = VAR_LEVEL,
             min_obs: int = VAR_MIN_OBS) -> tuple[np.ndarray, np.ndarray]:
    """(−q, −mean(r ≤ q)) per row of ``windows`` over its finite values (≥ min_obs)."""
    srt = np.sort(windows, axis=1)  # NaN last
    n = np.isfinite(srt).sum(axis=1)
    ok = n >= min_obs
    var = np.full(len(windows), np.nan)
    cvar = np.full(len(windows), np.nan)
    if not ok.any():
        return var, cvar
    srt, n = srt[ok], n[ok]
    virtual = n * level + (1.0 - level) - 1.0  # numpy's linear method: (n - 1) q
    lo = np.floor(virtual).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    gamma = virtual - lo
    rows = np.arange(len(srt))
    q = _lerp(srt[rows, lo], srt[rows, hi], gamma)
    tail = srt <= q[:, None]  # NaN compares False
    cvar_ok = -(np.where(tail, srt, 0.0).sum(axis=1) / tail.sum(axis=1))
    var[ok], cvar[ok] = -q, cvar_ok
    return var, cvar


def portfolio_return_stats(returns: pd.DataFrame, targets: pd.DataFrame) -> pd.DataFrame:
    """``realized_vol_21d``, ``realized_vol_63d``, ``var_95_1d``, ``cvar_95_1d`` per target.

    ``returns``: wide portfolio daily returns (index = sessions, columns = portfolio
    ids; NaN where there is no return, including each portfolio's first session).
    ``targets``: ``portfolio_id``, ``snapshot_date``. Returns ``OUTPUT_COLUMNS``.
    """
    rows, ends = target_positions(returns, targets)
    mat = entity_matrix(returns)
    if len(ends):  # only the 252-session lookback the targets need
        first = max(0, int(ends.min()) - VAR_WINDOW + 1)
        mat, ends = mat[:, first:int(ends.max()) + 1], ends - first
    padded = left_padded(mat, VAR_WINDOW)
    n = len(rows)
    vol21, vol63, var, cvar = (np.full(n, np.nan) for _ in range(4))
    for part in chunks(n, VAR_WINDOW):
        win = gather_windows(padded, rows[part], ends[part], VAR_WINDOW)
        vol21[part] = _full_window_vol(win[:, -21:])
        vol63[part] = _full_window_vol(win[:, -63:])
        var[part], cvar[part] = var_cvar(win)
    return pd.DataFrame({
        "portfolio_id": targets["portfolio_id"].to_numpy(),
        "snapshot_date": targets["snapshot_date"].to_numpy(),
        "realized_vol_21d": vol21, "realized_vol_63d": vol63,
        "var_95_1d": var, "cvar_95_1d": cvar,
    })
