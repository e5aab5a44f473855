"""HAR-RV forecasts against a per-window ``np.linalg.lstsq`` reference (DESIGN)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk.har import har_forecasts

RTOL = 1e-10


def har_returns(seed: int = 7) -> pd.DataFrame:
    """Realistic GARCH books plus degenerate ones (flat, constant |r|, holes)."""
    rng = np.random.default_rng(seed)
    n_sessions, n = 420, 7
    r = np.empty((n_sessions, n))
    s2 = np.full(n, 1e-4)
    for t in range(n_sessions):
        r[t] = rng.standard_normal(n) * np.sqrt(s2)
        s2 = 2e-6 + 0.08 * r[t] ** 2 + 0.9 * s2
    r[rng.random(r.shape) < 0.01] = np.nan
    r[0] = np.nan
    r[:120, 1] = np.nan                  # late start: first fits NULL
    r[200:205, 2] = np.nan               # a hole: x_t and y_t undefined around it
    r[:, 3] = 0.0                        # a flat book: X is rank 1 (minimum norm)
    r[::2, 4], r[1::2, 4] = 0.01, -0.01  # constant RV: X rank 1 as well
    sign = np.where(np.arange(n_sessions) % 2 == 0, 1.0, -1.0)
    r[:, 6] = 0.01 * sign * (1 + 1e-5 * rng.random(n_sessions))  # nearly constant RV
    r[0, 3] = r[0, 4] = r[0, 6] = np.nan
    return pd.DataFrame(r, columns=[f"pf{i}" for i in range(n)])


def reference_rows(r: np.ndarray, h: int) -> tuple[list, list]:
    """x_t and y_t of every session (None where undefined), straight from DESIGN."""
    rv = r ** 2
    xs, ys = [], []
    for t in range(len(r)):
        ok = t >= 21 and np.isfinite(r[t - 21: t + 1]).all()
        xs.append(np.array([1.0, rv[t], rv[t - 4: t + 1].mean(), rv[t - 21: t + 1].mean()])
                  if ok else None)
        future = rv[t + 1: t + h + 1]
        ys.append(future.mean() if len(future) == h and np.isfinite(future).all() else None)
    return xs, ys


def reference_har(r: np.ndarray, d: int, h: int, rows=None) -> float:
    """One ``np.linalg.lstsq`` on the fit window of d (t ≤ d − h, 252 sessions)."""
    xs, ys = rows if rows is not None else reference_rows(r, h)
    fit = [t for t in range(max(0, d - h - 251), d - h + 1)
           if xs[t] is not None and ys[t] is not None]
    if len(fit) < 60 or xs[d] is None:
        return np.nan
    b = np.linalg.lstsq(np.array([xs[t] for t in fit]), np.array([ys[t] for t in fit]),
                        rcond=None)[0]
    return float(np.sqrt(252.0 * max(xs[d] @ b, 0.0)))


def test_har_matches_lstsq_per_window():
    returns = har_returns()
    targets = pd.DataFrame([(p, d) for p in returns.columns for d in range(0, 420, 4)],
                           columns=["portfolio_id", "snapshot_date"])
    got = har_forecasts(returns, targets)
    for h in (1, 21):
        col = got[f"har_vol_{h}d"].to_numpy()
        rows = {p: reference_rows(returns[p].to_numpy(), h) for p in returns.columns}
        want = np.array([reference_har(returns[p].to_numpy(), d, h, rows[p])
                         for p, d in targets.itertuples(index=False)])
        assert (np.isnan(col) == np.isnan(want)).all(), f"h={h}: NULL pattern differs"
        ok = ~np.isnan(want)
        rel = np.abs(col[ok] - want[ok]) / np.maximum(np.abs(want[ok]), 1e-12)
        assert rel.max() <= RTOL, f"h={h}: max rel diff {rel.max():.3g}"
        assert ok.sum() > 300 and (~ok).sum() > 30
        flat = (targets["portfolio_id"] == "pf3").to_numpy() & ok
        assert flat.any() and (col[flat] == 0).all()  # flat book forecasts zero vol


def test_har_first_defined_session():
    """The first forecast needs 60 fit rows whose targets end by d: NULL one session
    earlier, defined on that session (h = 1, a gap-free book)."""
    rng = np.random.default_rng(1)
    r = rng.normal(0, 0.01, 200)
    r[0] = np.nan
    returns = pd.DataFrame({"pf": r})
    # x_t exists from t = 22 (returns on 1..22); the 60th row is t = 81, its target
    # RV_82 is known on d = 82.
    got = har_forecasts(returns, pd.DataFrame({"portfolio_id": "pf",
                                               "snapshot_date": [81, 82]}))
    assert np.isnan(got["har_vol_1d"][0]) and np.isfinite(got["har_vol_1d"][1])
    assert abs(got["har_vol_1d"][1] - reference_har(r, 82, 1)) <= 1e-10 * got["har_vol_1d"][1]


def test_har_does_not_depend_on_history_before_lookback():
    """An incremental run passes only the lookback (252 + 21 + 22 sessions before the
    target, `LOOKBACK`): the forecast must equal the one computed on the whole history."""
    returns = har_returns(seed=9)
    targets = pd.DataFrame({"portfolio_id": list(returns.columns), "snapshot_date": 419})
    full = har_forecasts(returns, targets)
    short = har_forecasts(returns.iloc[419 - 293:], targets)
    for col in ["har_vol_1d", "har_vol_21d"]:
        assert np.allclose(full[col], short[col], rtol=1e-12, atol=0, equal_nan=True), col
        assert full[col].notna().sum() >= 4
