"""Holdings back-cast and position risk against a plain per-group reference (DESIGN)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from risk.holdings import holdings_risk

RTOL = 1e-9


def symbol_returns(n_symbols: int, n_sessions: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    market = rng.normal(3e-4, 0.01, n_sessions)
    r = market[:, None] * rng.uniform(0.5, 1.5, n_symbols) + rng.normal(
        0, 0.015, (n_sessions, n_symbols))
    r[rng.random(r.shape) < 0.05] = np.nan
    r[: n_sessions - 40, 0] = np.nan  # a young symbol: < 30 returns in most windows
    r[0] = np.nan
    return pd.DataFrame(r, columns=[f"S{i:02d}" for i in range(n_symbols)])


def book(returns: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Positions and equity for 4 portfolios × the last 40 sessions, with shorts,
    zero-MV positions, an unavailable symbol and edge-case groups."""
    rng = np.random.default_rng(seed)
    syms = list(returns.columns) + ["GONE"]  # GONE: not in the returns frame
    pos, eq = [], []
    pid = 0
    for p in range(4):
        days = list(returns.index[-40:]) + ([returns.index[20]] if p == 3 else [])
        for d in days:  # pf3 also on session 20: a window clipped at the frame start
            k = rng.integers(1, 8)
            for s in rng.choice(syms, size=k):
                mv = rng.normal(1e4, 2e4)
                if rng.random() < 0.1:
                    mv = 0.0
                pos.append((f"pf{p}", d, pid, s, mv, rng.random() > 0.05))
                pid += 1
            eq.append((f"pf{p}", d, rng.uniform(5e4, 2e5)))
    positions = pd.DataFrame(pos, columns=["portfolio_id", "snapshot_date", "position_id",
                                           "risk_symbol", "market_value", "available"])
    equity = pd.DataFrame(eq, columns=["portfolio_id", "snapshot_date", "equity"])
    last = returns.index[-1]
    equity.loc[(equity.portfolio_id == "pf0") & (equity.snapshot_date == last), "equity"] = -5.0
    zero = (positions.portfolio_id == "pf1") & (positions.snapshot_date == last)
    positions.loc[zero, "market_value"] = 0.0
    empty = (positions.portfolio_id == "pf2") & (positions.snapshot_date == last)
    positions = positions[~empty].reset_index(drop=True)
    return positions, equity


def reference(positions, equity, returns):
    """Loops over groups and positions, straight from DESIGN."""
    hv, rows = {}, {}
    for p, d, e in equity.itertuples(index=False):
        t = returns.index.get_loc(d)
        grp = positions[(positions.portfolio_id == p) & (positions.snapshot_date == d)]
        rs = []
        for _, row in grp.iterrows():
            if row.available and row.risk_symbol in returns:
                win = returns[row.risk_symbol].to_numpy()[max(0, t - 62): t + 1]
                win = np.r_[np.full(63 - len(win), np.nan), win]
            else:
                win = np.full(63, np.nan)
            vals = win[np.isfinite(win)]
            vol = np.sqrt(252) * np.std(vals, ddof=1) if len(vals) >= 30 else np.nan
            rs.append((row.position_id, row.market_value / e, np.nan_to_num(win), vol))
        defined = e > 0 and any(grp.market_value != 0)
        rp = sum((w * r for _, w, r, _ in rs), np.zeros(63))
        var_p = np.var(rp, ddof=1)
        hv[(p, d)] = np.sqrt(252) * np.sqrt(var_p) if defined else np.nan
        for pid, w, r, vol in rs:
            c = w * np.cov(r, rp, ddof=1)[0, 1] / var_p if defined and var_p > 0 else np.nan
            rows[pid] = (vol, c)
    return hv, rows


def _rel(a, b):
    if np.isnan(a) or np.isnan(b):
        return 0.0 if np.isnan(a) and np.isnan(b) else np.inf
    return abs(a - b) / max(abs(b), 1e-12)


def test_holdings_match_reference():
    returns = symbol_returns(12, 160, seed=5)
    positions, equity = book(returns, seed=6)
    port, pos = holdings_risk(positions, equity, returns)
    hv, rows = reference(positions, equity, returns)
    got_hv = dict(zip(zip(port.portfolio_id, port.snapshot_date), port.holdings_vol_63d))
    assert max(_rel(got_hv[k], v) for k, v in hv.items()) <= RTOL
    assert len(pos) == len(positions)
    worst = max(max(_rel(v, rows[i][0]), _rel(c, rows[i][1]))
                for i, v, c in zip(pos.position_id, pos.realized_vol_63d,
                                   pos.risk_contribution))
    assert worst <= RTOL
    last = returns.index[-1]
    assert np.isnan(got_hv[("pf0", last)])  # equity ≤ 0
    assert np.isnan(got_hv[("pf1", last)])  # no MV ≠ 0
    assert np.isnan(got_hv[("pf2", last)])  # no position
    gone = pos.position_id.isin(positions.position_id[positions.risk_symbol == "GONE"])
    defined = pos.risk_contribution.notna()
    assert gone.any() and (pos.risk_contribution[gone & defined] == 0).all()
    assert pos.realized_vol_63d[gone].isna().all()
    sums = pos[defined].groupby(["portfolio_id", "snapshot_date"]).risk_contribution.sum()
    assert np.allclose(sums, 1.0, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 12))
def test_contributions_sum_to_one(seed, n_positions):
    rng = np.random.default_rng(seed)
    returns = symbol_returns(6, 70, seed)
    mv = rng.normal(0, 1e4, n_positions)
    positions = pd.DataFrame({"portfolio_id": "p", "snapshot_date": 69,
                              "position_id": np.arange(n_positions),
                              "risk_symbol": rng.choice(list(returns.columns), n_positions),
                              "market_value": mv})
    equity = pd.DataFrame({"portfolio_id": ["p"], "snapshot_date": [69],
                           "equity": [abs(mv).sum() + 1.0]})
    port, pos = holdings_risk(positions, equity, returns)
    assert np.isfinite(port.holdings_vol_63d[0]) and port.holdings_vol_63d[0] >= 0
    assert abs(pos.risk_contribution.sum() - 1.0) <= 1e-9


def test_holdings_do_not_depend_on_history_before_lookback():
    returns = symbol_returns(12, 160, seed=8)
    positions, equity = book(returns, seed=9)
    d = returns.index[-2]  # (the last session holds the edge cases)
    positions = positions[positions.snapshot_date == d].reset_index(drop=True)
    equity = equity[equity.snapshot_date == d].reset_index(drop=True)
    full = holdings_risk(positions, equity, returns)
    short = holdings_risk(positions, equity, returns.iloc[-64:])  # 62 sessions before d
    for a, b in zip(full, short):
        num = a.select_dtypes("float").columns.drop("market_value", errors="ignore")
        assert np.allclose(a[num], b[num], rtol=1e-12, atol=1e-15, equal_nan=True)
    assert full[1].risk_contribution.notna().sum() > 5
