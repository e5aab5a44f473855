"""Benchmark: every risk function on the 1,000 × 20 book shape, backfill and daily.

Run ``python benchmarks/risk_functions.py [--portfolios 1000 --positions 20]``; prints
one JSON object with the seconds of each function for a ``--sessions``-session backfill
and for a one-session daily increment (the same inputs, targets = the last session
only). Inputs are synthetic (``benchmarks/risk_data.py``); the frames carry the
lookback each function needs (252 + 43 sessions), as the risk phase will pass them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
LOOKBACK = 252 + 21 + 22


def scenarios() -> pd.DataFrame:
    """The 19 active scenarios of DESIGN (factor, shock rows)."""
    rows = [("market_up_5", "market_beta", 0.05), ("market_down_5", "market_beta", -0.05),
            ("rates_up_50bp", "ir_beta", 0.005), ("rates_down_50bp", "ir_beta", -0.005),
            ("market_up_10", "market_beta", 0.10), ("market_down_10", "market_beta", -0.10),
            ("market_crash_35", "market_beta", -0.35),
            ("market_rally_25", "market_beta", 0.25),
            ("rates_up_25bp", "ir_beta", 0.0025), ("rates_down_25bp", "ir_beta", -0.0025),
            ("rates_up_100bp", "ir_beta", 0.01), ("rates_down_100bp", "ir_beta", -0.01),
            ("rate_spike_300bp", "ir_beta", 0.03), ("value_rotation_20", "value", 0.20),
            ("value_rotation_20", "growth", -0.10), ("growth_rally_15", "growth", 0.15),
            ("growth_rally_15", "momentum", 0.10),
            ("small_cap_outperformance_10", "size", 0.10),
            ("quality_flight_12", "quality", 0.12),
            ("quality_flight_12", "market_beta", -0.05),
            ("vix_spike_150", "low_vol", -0.25), ("vix_spike_150", "market_beta", -0.15),
            ("liquidity_crisis", "market_beta", -0.20), ("liquidity_crisis", "low_vol", -0.30),
            ("liquidity_crisis", "quality", 0.15), ("liquidity_crisis", "size", -0.10)]
    return pd.DataFrame(rows, columns=["scenario_id", "factor", "shock"])


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return round(time.perf_counter() - start, 3), out


def run(days, port_ret, sym_ret, positions, equity, factors) -> dict:
    """Seconds of each function for the targets on ``days``."""
    from risk.correlations import correlations
    from risk.factor_covariance import factor_covariances
    from risk.har import har_forecasts
    from risk.holdings import holdings_risk
    from risk.return_stats import portfolio_return_stats
    from risk.stress import stress_results

    eq = equity[equity.snapshot_date.isin(days)].reset_index(drop=True)
    pos = positions[positions.snapshot_date.isin(days)].reset_index(drop=True)
    keys = eq[["portfolio_id", "snapshot_date"]]
    latest = keys[keys.snapshot_date == days[-1]]
    out = {}
    out["return_stats_s"], _ = timed(portfolio_return_stats, port_ret, keys)
    out["har_s"], _ = timed(har_forecasts, port_ret, keys)
    out["holdings_s"], _ = timed(holdings_risk, pos, eq, sym_ret)
    out["correlations_s"], _ = timed(correlations, pos, keys, sym_ret, matrix_targets=latest)
    out["factor_covariance_s"], cov = timed(factor_covariances, sym_ret, days)
    exposures = factors[factors.snapshot_date.isin(days)]
    out["stress_s"], res = timed(stress_results, exposures, eq, cov, scenarios())
    out["stress_rows"] = len(res[0])
    out["total_s"] = round(sum(v for k, v in out.items() if k.endswith("_s")), 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portfolios", type=int, default=1000)
    parser.add_argument("--positions", type=int, default=20)
    parser.add_argument("--symbols", type=int, default=1200)
    parser.add_argument("--sessions", type=int, default=250, help="backfill sessions")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from benchmarks.risk_data import FACTORS, book, portfolio_returns, symbol_returns

    n = args.sessions + LOOKBACK
    port_ret = portfolio_returns(args.portfolios, n, args.seed)
    sym_ret = symbol_returns(args.symbols, n, args.seed)
    days = sym_ret.index[LOOKBACK:]
    symbols = [c for c in sym_ret.columns if c.startswith("SYM")]
    positions, equity = book(args.portfolios, args.positions, symbols, days, args.seed)
    rng = np.random.default_rng(args.seed)
    keys = equity[["portfolio_id", "snapshot_date"]]
    factors = pd.DataFrame({
        "portfolio_id": np.repeat(keys.portfolio_id.to_numpy(), len(FACTORS)),
        "snapshot_date": np.repeat(keys.snapshot_date.to_numpy(), len(FACTORS)),
        "factor": np.tile(FACTORS, len(keys)),
        "dollar_exposure": rng.normal(0, 1e5, len(keys) * len(FACTORS)),
    })
    result = {"portfolios": args.portfolios, "positions": args.positions,
              "symbols": args.symbols, "backfill_sessions": len(days),
              "backfill": run(days, port_ret, sym_ret, positions, equity, factors),
              "daily": run(days[-1:], port_ret, sym_ret, positions, equity, factors)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
