"""Benchmark: vectorized rolling betas vs the per-window scikit-learn loop.

Run ``python benchmarks/factors.py [--symbols 1200 --sessions 254]``; prints one JSON
object. The loop baseline is the independent reference of
``tests/test_factors_rolling.py``; a full loop would take too long, so it is timed on
a random sample of (symbol, session) windows (all factors) and extrapolated.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _reference():
    """Load the sklearn reference from the test module (it must live in the tests)."""
    spec = importlib.util.spec_from_file_location(
        "_factor_reference", ROOT / "tests" / "test_factors_rolling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reference_betas


def synthetic(n_symbols: int, n_sessions: int, etfs: list[str], seed: int) -> pd.DataFrame:
    """Factor-model daily returns with ~3 % missing cells (1 % for the ETFs)."""
    rng = np.random.default_rng(seed)
    market = rng.normal(4e-4, 0.01, n_sessions)
    x = np.column_stack([rng.uniform(0.6, 1.3) * market + rng.normal(0, 0.005, n_sessions)
                         for _ in etfs])
    betas = rng.normal(0.25, 0.15, (len(etfs), n_symbols))
    y = x @ betas + rng.normal(0, 0.015, (n_sessions, n_symbols))
    x[rng.random(x.shape) < 0.01] = np.nan
    y[rng.random(y.shape) < 0.03] = np.nan
    columns = etfs + [f"SYM{i:04d}" for i in range(n_symbols)]
    sessions = pd.bdate_range("2022-01-03", periods=n_sessions).date
    return pd.DataFrame(np.hstack([x, y]), index=sessions, columns=columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=1200)
    parser.add_argument("--sessions", type=int, default=254, help="target sessions")
    parser.add_argument("--loop-sample", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    # This script is itself named factors.py: put the repo root first so that
    # `factors` resolves to the package, not to this file.
    sys.path.insert(0, str(ROOT))
    from factors.rolling import compute_betas
    from snapfolio.core.factor_definitions import factor_etfs, load_definitions, lookback_sessions

    definitions = load_definitions()
    etfs = factor_etfs(definitions)
    lookback = lookback_sessions(definitions)
    returns = synthetic(args.symbols, args.sessions + lookback, etfs, args.seed)
    symbols = [c for c in returns.columns if c not in etfs]
    targets_days = list(returns.index[lookback:])
    targets = {s: targets_days for s in symbols}

    start = time.perf_counter()
    result = compute_betas(returns, definitions, target_sessions=targets)
    vectorized_s = time.perf_counter() - start

    rng = np.random.default_rng(args.seed + 1)
    pairs = [(symbols[i], targets_days[j]) for i, j in zip(
        rng.integers(0, len(symbols), args.loop_sample),
        rng.integers(0, len(targets_days), args.loop_sample))]
    reference_betas = _reference()
    start = time.perf_counter()
    reference = reference_betas(returns, definitions, pairs)
    loop_s = time.perf_counter() - start

    n_pairs = len(symbols) * len(targets_days)
    loop_extrapolated_s = loop_s / len(pairs) * n_pairs
    sampled = result.merge(pd.DataFrame(pairs, columns=["symbol", "as_of_date"]).drop_duplicates())
    got = {(r.symbol, r.as_of_date, r.factor): (r.beta, r.r_squared) for r in
           sampled.itertuples(index=False)}
    print(json.dumps({
        "symbols": len(symbols),
        "target_sessions": len(targets_days),
        "lookback_sessions": lookback,
        "factors": len(definitions),
        "pairs": n_pairs,
        "rows": len(result),
        "vectorized_s": round(vectorized_s, 3),
        "loop_sampled_windows": len(pairs),
        "loop_sampled_s": round(loop_s, 3),
        "loop_extrapolated_s": round(loop_extrapolated_s, 1),
        "speedup": round(loop_extrapolated_s / vectorized_s, 1),
        "sampled_keys_match": set(got) == set(reference),
        "max_abs_beta_diff": max(abs(got[k][0] - reference[k][0]) for k in reference),
        "max_abs_r2_diff": max(abs(got[k][1] - reference[k][1]) for k in reference),
    }))


if __name__ == "__main__":
    main()
