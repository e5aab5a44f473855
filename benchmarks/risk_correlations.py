"""Benchmark: vectorized pairwise correlations vs pandas ``corr(min_periods=30)``.

Run ``python benchmarks/risk_correlations.py [--portfolios 1000 --positions 20]``;
prints one JSON object. The baseline computes, per (portfolio, session), the 90-session
window of the book's risk symbols with ``DataFrame.corr(min_periods=30)`` and the two
summaries; it is timed on a random sample of groups and extrapolated to all of them.
Every sampled pair's correlation is compared.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LOOKBACK = 89


def pandas_group(returns, t: int, group) -> tuple[dict, float, float]:
    """The baseline for one (portfolio, session): pandas corr and the summaries."""
    g = group[group.market_value != 0]
    net = g.groupby("risk_symbol").market_value.sum()
    uni = sorted(net.index, key=str.encode)
    win = returns.iloc[max(0, t - 89): t + 1][uni]
    corr = win.corr(min_periods=30).to_numpy()
    iu = np.triu_indices(len(uni), 1)
    rho = corr[iu]
    pairs = {(uni[i], uni[j]): c for i, j, c in zip(*iu, rho) if np.isfinite(c)}
    w = net[uni].to_numpy() / np.abs(net).sum()
    r = np.where(np.isfinite(corr), corr, 0.0)
    np.fill_diagonal(r, 1.0)
    quad = w @ r @ w
    return pairs, (np.nanmean(rho) if np.isfinite(rho).any() else np.nan), 1.0 / quad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portfolios", type=int, default=1000)
    parser.add_argument("--positions", type=int, default=20)
    parser.add_argument("--symbols", type=int, default=1200)
    parser.add_argument("--sessions", type=int, default=250, help="target sessions")
    parser.add_argument("--loop-sample", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from benchmarks.risk_data import book, symbol_returns
    from risk.correlations import correlations

    returns = symbol_returns(args.symbols, args.sessions + LOOKBACK, args.seed)
    days = returns.index[LOOKBACK:]
    symbols = [c for c in returns.columns if c.startswith("SYM")]
    positions, equity = book(args.portfolios, args.positions, symbols, days, args.seed)
    targets = equity[["portfolio_id", "snapshot_date"]]
    latest = targets[targets.snapshot_date == days[-1]]
    start = time.perf_counter()
    summary, _ = correlations(positions, targets, returns, matrix_targets=latest)
    vectorized_s = time.perf_counter() - start

    rng = np.random.default_rng(args.seed + 1)
    sample = rng.choice(len(targets), args.loop_sample, replace=False)
    # Same run, pair lists of the sampled groups (not timed: the matrix is stored for
    # the latest session only).
    _, pairs = correlations(positions, targets, returns, matrix_targets=targets.iloc[sample])
    by_group = positions.groupby(["portfolio_id", "snapshot_date"])
    groups = [(targets.iloc[i], by_group.get_group(tuple(targets.iloc[i]))) for i in sample]
    pos_of = {d: i for i, d in enumerate(returns.index)}
    start = time.perf_counter()
    reference = [pandas_group(returns, pos_of[key.snapshot_date], grp) for key, grp in groups]
    loop_s = time.perf_counter() - start

    keyed = pairs.set_index(["portfolio_id", "as_of_date", "symbol_a", "symbol_b"]).correlation
    summ = summary.set_index(["portfolio_id", "snapshot_date"])
    worst, same_keys, n_pairs = 0.0, True, 0
    for (key, _), (ref_pairs, avg, eff) in zip(groups, reference):
        got = keyed.loc[(key.portfolio_id, key.snapshot_date)]
        same_keys &= set(got.index) == set(ref_pairs)
        for k, c in ref_pairs.items():
            worst = max(worst, abs(got[k] - c) / abs(c))
            n_pairs += 1
        row = summ.loc[(key.portfolio_id, key.snapshot_date)]
        worst = max(worst, abs(row.avg_pairwise_correlation - avg) / abs(avg),
                    abs(row.correlation_effective_positions - eff) / abs(eff))
    loop_extrapolated_s = loop_s / len(sample) * len(targets)
    print(json.dumps({
        "portfolios": args.portfolios, "positions": args.positions,
        "target_sessions": len(days), "groups": len(targets),
        "vectorized_s": round(vectorized_s, 3),
        "loop_sampled_groups": len(sample), "loop_sampled_s": round(loop_s, 3),
        "loop_extrapolated_s": round(loop_extrapolated_s, 1),
        "speedup": round(loop_extrapolated_s / vectorized_s, 1),
        "sampled_pairs_compared": n_pairs, "sampled_pair_keys_match": bool(same_keys),
        "max_rel_diff": worst,
    }))


if __name__ == "__main__":
    main()
