"""Stress scenarios: direct and block-conditional ("correlated") P&L (DESIGN).

For a scenario with shocked factors S and applied shocks s' (a factor return; for
``ir_beta`` a yield change Δy applied as the TLT return −D·Δy): direct P&L = Σ_S E_k s'_k;
correlated P&L adds, within each block B ({market_beta, ir_beta} and the six styles)
that has a shocked factor, the conditional move of its unshocked factors
f_U = Σ_US Σ_SS⁻¹ s'_S times their exposures. The implied move vector depends only on
(session, scenario), so it is built by batched small solves over sessions (a loop over
the fixed scenarios × 2 blocks only) and the P&L of every (portfolio, d) is one
contraction with its exposures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk._common import chunks, group_of
from risk.factor_covariance import FACTORS, matrices_from_frame

BLOCKS = (("market_beta", "ir_beta"),
          ("value", "growth", "momentum", "quality", "size", "low_vol"))
DEFAULT_DURATION = 17.0
RESULT_COLUMNS = ["portfolio_id", "snapshot_date", "scenario_id", "direct_pnl",
                  "correlated_pnl", "direct_return", "correlated_return"]
WORST_COLUMNS = ["portfolio_id", "snapshot_date", "worst_stress_scenario", "worst_stress_pnl"]


def applied_shocks(scenarios: pd.DataFrame,
                   duration: float = DEFAULT_DURATION) -> tuple[list[str], np.ndarray]:
    """(scenario ids in byte order, (scenarios, 8) applied shocks, NaN = not shocked).

    ``scenarios``: ``scenario_id``, ``factor``, ``shock`` and optionally ``active``
    (inactive rows are dropped)."""
    sc = scenarios
    if "active" in sc:
        sc = sc[sc["active"].astype(bool)]
    fi = pd.Index(FACTORS).get_indexer(sc["factor"])
    if (fi < 0).any():
        raise ValueError(f"stress scenario {sc['scenario_id'].iloc[int(np.argmax(fi < 0))]!r}: "
                         f"unknown factor {sc['factor'].iloc[int(np.argmax(fi < 0))]!r}")
    ids = sorted(set(sc["scenario_id"]))
    si = pd.Index(ids).get_indexer(sc["scenario_id"])
    shock = sc["shock"].to_numpy(dtype=np.float64)
    shock = np.where(fi == FACTORS.index("ir_beta"), -duration * shock, shock)
    out = np.full((len(ids), len(FACTORS)), np.nan)
    out[si, fi] = shock
    return ids, out


def implied_moves(cov: np.ndarray, shocks: np.ndarray) -> np.ndarray:
    """(sessions, scenarios, 8) factor moves: s' on the shocked factors, the
    within-block conditional move on the unshocked factors of a shocked block, 0
    elsewhere; NaN on a session whose covariance is undefined."""
    undefined = ~np.isfinite(cov).all(axis=(1, 2))
    safe = np.where(undefined[:, None, None], np.eye(len(FACTORS)), cov)
    moves = np.zeros((len(cov), len(shocks), len(FACTORS)))
    for j, s in enumerate(shocks):
        shocked = np.isfinite(s)
        moves[:, j, shocked] = s[shocked]
        for block in BLOCKS:
            idx = np.array([FACTORS.index(f) for f in block])
            sb, ub = idx[shocked[idx]], idx[~shocked[idx]]
            if len(sb) == 0 or len(ub) == 0:
                continue
            inv = np.linalg.pinv(safe[:, sb[:, None], sb[None, :]])  # (D, |S|, |S|)
            z = inv @ s[sb]
            moves[:, j, ub] = np.einsum("dus,ds->du", safe[:, ub[:, None], sb[None, :]], z)
    moves[undefined] = np.nan
    return moves


def exposure_matrix(exposures: pd.DataFrame, targets: pd.DataFrame) -> np.ndarray:
    """(targets, 8) dollar exposures from a long frame (``portfolio_id``,
    ``snapshot_date``, ``factor``, ``dollar_exposure``); missing / NULL → 0."""
    out = np.zeros((len(targets), len(FACTORS)))
    fi = pd.Index(FACTORS).get_indexer(exposures["factor"])
    ex = exposures[fi >= 0]
    g = group_of(targets, ex, "targets")
    val = np.nan_to_num(ex["dollar_exposure"].to_numpy(dtype=np.float64), nan=0.0)
    np.add.at(out, (g, fi[fi >= 0]), val)
    return out


def stress_results(exposures: pd.DataFrame, targets: pd.DataFrame,
                   covariances: pd.DataFrame, scenarios: pd.DataFrame,
                   duration: float = DEFAULT_DURATION) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per target × active scenario ``RESULT_COLUMNS``, worst per target).

    ``targets``: ``portfolio_id``, ``snapshot_date``, ``equity``. ``covariances``: the
    long ``fct_factor_covariances`` frame (``as_of_date``, ``factor_a``, ``factor_b``,
    ``covariance``); a session absent from it has an undefined covariance.
    """
    ids, shocks = applied_shocks(scenarios, duration)
    dates, didx = np.unique(targets["snapshot_date"].to_numpy(), return_inverse=True)
    moves = implied_moves(matrices_from_frame(covariances, dates), shocks)
    e = exposure_matrix(exposures, targets)
    direct = e @ np.nan_to_num(shocks, nan=0.0).T  # (N, scenarios)
    corr = np.empty_like(direct)
    for part in chunks(len(e), len(ids) * len(FACTORS)):
        corr[part] = np.einsum("nk,nsk->ns", e[part], moves[didx[part]])
    eq = targets["equity"].to_numpy(dtype=np.float64)
    pos_eq = np.where(eq > 0, eq, np.nan)[:, None]
    n, m = direct.shape
    results = pd.DataFrame({
        "portfolio_id": np.repeat(targets["portfolio_id"].to_numpy(), m),
        "snapshot_date": np.repeat(targets["snapshot_date"].to_numpy(), m),
        "scenario_id": np.tile(np.array(ids, dtype=object), n),
        "direct_pnl": direct.reshape(-1), "correlated_pnl": corr.reshape(-1),
        "direct_return": (direct / pos_eq).reshape(-1),
        "correlated_return": (corr / pos_eq).reshape(-1),
    })
    ranked = np.where(np.isnan(corr), direct, corr)
    has = m > 0
    best = np.argmin(ranked, axis=1) if has else np.zeros(n, dtype=np.int64)  # first = smallest id
    worst = pd.DataFrame({
        "portfolio_id": targets["portfolio_id"].to_numpy(),
        "snapshot_date": targets["snapshot_date"].to_numpy(),
        "worst_stress_scenario": np.array(ids, dtype=object)[best] if has else None,
        "worst_stress_pnl": ranked[np.arange(n), best] if has else np.nan,
    })
    return results, worst
