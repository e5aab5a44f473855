"""Risk-phase benchmark: where a daily increment's and an onboarding's risk time goes,
step by step (the risk phase's own stats: each read, each numpy step, the store, the
dbt build per model and its tests), one JSON object on stdout.

    python benchmarks/risk_phase.py [--portfolios 200 --positions 20 --symbols 400]
                                    [--daily-runs 2] [--onboarding-runs 1] [--keep-database]

A book of benchmarks/scale.py's synthetic portfolios is backfilled through 2025-12-31
(execute_batch, all phases), then measured: the next sessions' daily increments, then
one new portfolio onboarded into the book. Run it from two checkouts one after the
other (same machine, same size) for a before/after: the JSON carries the checkout's
commit and the machine's load averages.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=False).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _measured(label: str, fn) -> dict[str, Any]:
    t0 = time.perf_counter()
    summary = fn()
    wall = round(time.perf_counter() - t0, 3)
    if summary.status == "failed":
        raise RuntimeError(f"{label}: batch failed: {summary.error}")
    risk = summary.risk or {}
    out = {"wall_s": wall, "phases_s": summary.timings,
           "risk_s": risk.get("elapsed_s"), "risk_sessions": risk.get("sessions"),
           "risk_steps_s": risk.get("timings"), "risk_dbt_node_s": risk.get("dbt_node_s"),
           "load_avg": os.getloadavg()}
    print(f"[risk-bench] {label}: {wall:.1f} s risk {out['risk_s']} s {out['risk_steps_s']}",
          file=sys.stderr, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portfolios", type=int, default=200)
    parser.add_argument("--positions", type=int, default=20)
    parser.add_argument("--symbols", type=int, default=400)
    parser.add_argument("--as-of", default="2025-12-31")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--daily-runs", type=int, default=2)
    parser.add_argument("--onboarding-runs", type=int, default=1)
    parser.add_argument("--keep-database", action="store_true",
                        help="keep the book's database (its URL is printed on stderr)")
    args = parser.parse_args()
    os.environ.setdefault("SNAPFOLIO_PRICE_PROVIDER", "synthetic")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")

    from benchmarks._db import scratch_database
    from benchmarks.scale import make_book, onboarding_request, store_book, symbol_names
    from snapfolio.core import calendar

    as_of = date.fromisoformat(args.as_of)
    first = date(as_of.year, 1, 1)
    result: dict[str, Any] = {
        "benchmark": "risk_phase", "commit": _commit(),
        "database": "SNAPFOLIO_DATABASE_URL" if os.environ.get("SNAPFOLIO_DATABASE_URL") else "embedded",
        "cpus": os.cpu_count(), "load_avg_start": os.getloadavg(),
        "size": {"portfolios": args.portfolios, "positions": args.positions,
                 "symbols": args.symbols, "first": first.isoformat(), "as_of": args.as_of},
    }
    with scratch_database("snapfolio_bench_risk", keep=args.keep_database):
        from flows.batch import execute_batch
        from flows.request import BatchRequest
        from snapfolio.core.database import get_engine
        from snapfolio.core.settings import load_settings

        settings = load_settings()
        engine = get_engine(settings)
        symbols = symbol_names(args.symbols)
        book = make_book(args.portfolios, args.positions, symbols, first, as_of, args.seed)
        store_book(engine, book)

        def batch(day: date, kind: str = "daily"):
            return lambda: execute_batch(BatchRequest(kind=kind, as_of=day), settings=settings)

        result["backfill"] = _measured("backfill", batch(as_of, "backfill"))
        day, daily = as_of, []
        for _ in range(args.daily_runs):
            day = calendar.next_session(day)
            daily.append(_measured(f"daily {day}", batch(day)))
        result["daily"] = daily
        onboarding = []
        with tempfile.TemporaryDirectory() as tmp:
            for k in range(args.onboarding_runs):
                req = onboarding_request(Path(tmp), k, args, symbols, first, day)
                onboarding.append(_measured(f"onboarding {k}",
                                            lambda req=req: execute_batch(req, settings=settings)))
        result["onboarding"] = onboarding
        engine.dispose()
    result["load_avg_end"] = os.getloadavg()
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
