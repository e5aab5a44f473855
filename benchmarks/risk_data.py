"""Synthetic inputs of the 1,000 × 20 book shape for the risk benchmarks.

GARCH(1,1) portfolio returns and factor-model symbol returns (~3 % missing), books of
``positions`` risk symbols per portfolio drawn from ``symbols`` (~15 % shorts, a few
zero-MV positions); integer portfolio ids, datetime64 sessions, held across the target sessions. Not imported by the package.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ETFS = ["SPY", "TLT", "VTV", "VUG", "MTUM", "QUAL", "IWM", "USMV"]
FACTORS = ["market_beta", "ir_beta", "value", "growth", "momentum", "quality", "size",
           "low_vol"]


def sessions(n: int) -> pd.DatetimeIndex:
    """Business days standing in for consecutive NYSE sessions."""
    return pd.bdate_range("2021-01-04", periods=n)


def portfolio_returns(n_portfolios: int, n_sessions: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_sessions, n_portfolios))
    r = np.empty_like(z)
    s2 = np.full(n_portfolios, 1e-4)
    for t in range(n_sessions):  # a loop over sessions building test data, not the code
        r[t] = z[t] * np.sqrt(s2) + 3e-4
        s2 = 2e-6 + 0.08 * r[t] ** 2 + 0.9 * s2
    r[rng.random(r.shape) < 0.01] = np.nan
    r[0] = np.nan
    return pd.DataFrame(r, columns=np.arange(n_portfolios), index=sessions(n_sessions))


def symbol_returns(n_symbols: int, n_sessions: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    market = rng.normal(4e-4, 0.01, n_sessions)
    x = np.column_stack([rng.uniform(0.6, 1.3) * market + rng.normal(0, 0.005, n_sessions)
                         for _ in ETFS])
    betas = rng.normal(0.25, 0.15, (len(ETFS), n_symbols))
    y = x @ betas + rng.normal(0, 0.015, (n_sessions, n_symbols))
    x[rng.random(x.shape) < 0.01] = np.nan
    y[rng.random(y.shape) < 0.03] = np.nan
    cols = ETFS + [f"SYM{i:04d}" for i in range(n_symbols)]
    return pd.DataFrame(np.hstack([x, y]), columns=cols, index=sessions(n_sessions))


def book(n_portfolios: int, n_positions: int, symbols: list[str], sessions,
         seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(positions, equity) for every portfolio × session in ``sessions``."""
    rng = np.random.default_rng(seed)
    picks = np.stack([rng.choice(len(symbols), n_positions, replace=False)
                      for _ in range(n_portfolios)])
    mv0 = rng.lognormal(9, 1, (n_portfolios, n_positions))
    mv0 *= np.where(rng.random(mv0.shape) < 0.15, -1.0, 1.0)
    mv0[rng.random(mv0.shape) < 0.02] = 0.0
    sessions = np.asarray(sessions)
    n_s = len(sessions)
    drift = 1 + 0.001 * np.arange(n_s)
    mv = mv0[:, None, :] * drift[None, :, None]  # (P, S, K)
    pid = np.arange(n_portfolios * n_positions).reshape(n_portfolios, n_positions)
    positions = pd.DataFrame({
        "portfolio_id": np.repeat(np.arange(n_portfolios), n_s * n_positions),
        "snapshot_date": np.tile(np.repeat(sessions, n_positions), n_portfolios),
        "position_id": np.broadcast_to(pid[:, None, :], mv.shape).reshape(-1),
        "risk_symbol": np.asarray(symbols, dtype=object)[
            np.broadcast_to(picks[:, None, :], mv.shape).reshape(-1)],
        "market_value": mv.reshape(-1),
    })
    equity = positions.groupby(["portfolio_id", "snapshot_date"], sort=False,
                               as_index=False).market_value.sum()
    equity = equity.rename(columns={"market_value": "equity"})
    equity["equity"] = equity["equity"].abs() * 1.2 + 1e4
    return positions, equity
