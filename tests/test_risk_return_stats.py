"""Realized volatility, VaR and CVaR against a plain per-window reference (DESIGN)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk.return_stats import portfolio_return_stats

RTOL = 1e-9


def garch_returns(n_portfolios: int, n_sessions: int, seed: int,
                  missing: float = 0.03) -> pd.DataFrame:
    """GARCH(1,1) daily returns with missing cells and late-starting portfolios."""
    rng = np.random.default_rng(seed)
    r = np.empty((n_sessions, n_portfolios))
    s2 = np.full(n_portfolios, 1e-4)
    for t in range(n_sessions):
        r[t] = rng.standard_normal(n_portfolios) * np.sqrt(s2) + 3e-4
        s2 = 2e-6 + 0.08 * r[t] ** 2 + 0.9 * s2
    r[rng.random(r.shape) < missing] = np.nan
    for p in range(n_portfolios):  # first session(s) without a return
        r[: 1 + 37 * p, p] = np.nan
    cols = [f"pf{p}" for p in range(n_portfolios)]
    return pd.DataFrame(r, columns=cols, index=pd.RangeIndex(100, 100 + n_sessions))


def all_targets(returns: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame([(p, d) for p in returns.columns for d in returns.index],
                        columns=["portfolio_id", "snapshot_date"])


def reference(returns: pd.DataFrame, targets: pd.DataFrame) -> pd.DataFrame:
    """Loops straight from DESIGN: windows include d, ddof 1, ×√252, np.quantile."""
    rows = []
    for p, d in targets.itertuples(index=False):
        col = returns[p].to_numpy()
        t = returns.index.get_loc(d)
        out = {}
        for w in (21, 63):
            win = col[t - w + 1: t + 1] if t >= w - 1 else None
            ok = win is not None and np.isfinite(win).all()
            out[f"realized_vol_{w}d"] = np.sqrt(252) * np.std(win, ddof=1) if ok else np.nan
        vals = col[max(0, t - 251): t + 1]
        vals = vals[np.isfinite(vals)]
        if len(vals) >= 60:
            q = np.quantile(vals, 0.05)
            out["var_95_1d"], out["cvar_95_1d"] = -q, -vals[vals <= q].mean()
        else:
            out["var_95_1d"] = out["cvar_95_1d"] = np.nan
        rows.append(out)
    return pd.DataFrame(rows)


def assert_close(got: np.ndarray, want: np.ndarray, rtol: float, what: str) -> None:
    got, want = np.asarray(got, float), np.asarray(want, float)
    assert (np.isnan(got) == np.isnan(want)).all(), f"{what}: NULL pattern differs"
    ok = ~np.isnan(want)
    rel = np.abs(got[ok] - want[ok]) / np.maximum(np.abs(want[ok]), 1e-12)
    assert rel.size == 0 or rel.max() <= rtol, f"{what}: max rel diff {rel.max():.3g}"


def test_stats_match_reference():
    returns = garch_returns(6, 330, seed=3)
    targets = all_targets(returns)
    got = portfolio_return_stats(returns, targets)
    want = reference(returns, targets)
    assert list(got["portfolio_id"]) == list(targets["portfolio_id"])
    for col in want.columns:
        assert_close(got[col], want[col], RTOL, col)
        assert got[col].notna().sum() > 100, f"{col}: too few defined rows to be a test"
        assert got[col].isna().sum() > 0, f"{col}: no NULL row (window start) tested"


def test_var_small_sample_boundary():
    """Exactly 60 returns in the window define VaR; 59 do not."""
    rng = np.random.default_rng(0)
    r = np.full((300, 2), np.nan)
    r[-60:, 0] = rng.normal(0, 0.01, 60)
    r[-59:, 1] = rng.normal(0, 0.01, 59)
    returns = pd.DataFrame(r, columns=["a", "b"])
    got = portfolio_return_stats(returns, pd.DataFrame(
        {"portfolio_id": ["a", "b"], "snapshot_date": [299, 299]}))
    vals = r[-60:, 0]
    q = np.quantile(vals, 0.05)
    assert abs(got["var_95_1d"][0] + q) <= 1e-15
    assert abs(got["cvar_95_1d"][0] + vals[vals <= q].mean()) <= 1e-15
    assert np.isnan(got["var_95_1d"][1]) and np.isnan(got["cvar_95_1d"][1])


def test_unknown_target_is_one_clear_error():
    returns = garch_returns(2, 80, seed=1)
    for targets, msg in [({"portfolio_id": ["pf0"], "snapshot_date": [999]},
                          "snapshot_date 999 not in the returns frame"),
                         ({"portfolio_id": ["nope"], "snapshot_date": [150]},
                          "portfolio_id 'nope' not in the returns frame")]:
        try:
            portfolio_return_stats(returns, pd.DataFrame(targets))
        except KeyError as exc:
            assert exc.args[0] == msg
        else:
            raise AssertionError("no error")
