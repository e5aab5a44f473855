"""Onboarding benchmark: scott_yaphe_portfolio_5M.csv (13 positions, entry 2025-01-06)
through 2025-12-31 with synthetic prices, end to end, one JSON object on stdout.

    python benchmarks/onboarding.py [--as-of 2025-12-31] [--file PATH]

Phases are timed separately; `second_run` repeats the batch to show that an up-to-date
portfolio costs almost nothing. The old system's 894 s for the same work is quoted (it
cannot be run here), not measured.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OLD_SYSTEM_SECONDS = 894.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", default="2025-12-31")
    parser.add_argument("--file", default=str(ROOT / "examples/portfolios/scott_yaphe_portfolio_5M.csv"))
    args = parser.parse_args()
    os.environ.setdefault("SNAPFOLIO_PRICE_PROVIDER", "synthetic:unavailable=GGIPX+NEAIX")
    started = time.perf_counter()
    from benchmarks._db import scratch_database

    with scratch_database("snapfolio_bench_onboard"):
        from snapfolio import pipeline
        from snapfolio.database import get_engine, resolve_url
        from snapfolio.settings import load_settings

        t0 = time.perf_counter()
        settings = load_settings()
        url = resolve_url(settings)
        engine = get_engine(settings)
        db_ready = time.perf_counter() - t0
        t0 = time.perf_counter()
        onboarded = pipeline.onboard_file(engine, Path(args.file), "bench")
        import_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        summary = pipeline.run_batch(engine, settings, url, as_of=date.fromisoformat(args.as_of),
                                     portfolio_names=["bench"])
        batch_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        second = pipeline.run_batch(engine, settings, url, as_of=date.fromisoformat(args.as_of),
                                    portfolio_names=["bench"])
        second_s = time.perf_counter() - t0
        with engine.connect() as conn:
            import sqlalchemy as sa

            snapshots = conn.execute(sa.text("select count(*) from marts.fct_portfolio_snapshots")).scalar()
            positions = conn.execute(sa.text("select count(*) from marts.fct_position_values")).scalar()
        engine.dispose()
    total = time.perf_counter() - started
    end_to_end = import_s + batch_s
    print(json.dumps({
        "benchmark": "onboarding",
        "file": Path(args.file).name,
        "positions": onboarded.positions,
        "as_of": args.as_of,
        "phases_s": {"database_ready": round(db_ready, 3), "import_csv": round(import_s, 3),
                     **summary.timings},
        "onboarding_end_to_end_s": round(end_to_end, 3),
        "second_run_s": round(second_s, 3),
        "second_run_phases_s": second.timings,
        "process_total_s": round(total, 3),
        "rows": {"snapshots": snapshots, "position_values": positions},
        "price_requests": summary.prices.get("provider_requests"),
        "target_s": 15.0,
        "old_system_quoted_s": OLD_SYSTEM_SECONDS,
        "speedup_vs_old_system_quoted": round(OLD_SYSTEM_SECONDS / end_to_end, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
