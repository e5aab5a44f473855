"""Onboarding benchmark: scott_yaphe_portfolio_5M.csv (13 positions, entry 2025-01-06)
through 2025-12-31 with synthetic prices, end to end through the Prefect flow, one JSON
object on stdout.

    python benchmarks/onboarding.py [--as-of 2025-12-31] [--file PATH] [--cold]

Reported separately: the local Prefect server start (0 when it is already warm; with
--cold a second server is started in a scratch home just to time a cold start), the
flow's phases (the batch's own timings) and Prefect's orchestration overhead (flow wall
time minus the phases). `second_run` repeats the batch for the same portfolio, which is
then current: the cost of a run with nothing to do. The old system's 894 s for the same
work is quoted (it cannot be run here), not measured.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OLD_SYSTEM_SECONDS = 894.0


def _cold_server_start() -> float:
    from flows.prefect_server import ensure_prefect_server, stop_prefect_server

    home = Path(tempfile.mkdtemp(prefix="snapfolio-cold-prefect-"))
    saved = os.environ.pop("PREFECT_API_URL", None)
    t0 = time.perf_counter()
    try:
        ensure_prefect_server(home, port=0)
        return time.perf_counter() - t0
    finally:
        stop_prefect_server(home)
        shutil.rmtree(home, ignore_errors=True)
        os.environ.pop("PREFECT_API_URL", None)
        if saved:
            os.environ["PREFECT_API_URL"] = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", default="2025-12-31")
    parser.add_argument("--file", default=str(ROOT / "examples/portfolios/scott_yaphe_portfolio_5M.csv"))
    parser.add_argument("--cold", action="store_true", help="also time a cold Prefect server start")
    args = parser.parse_args()
    os.environ.setdefault("SNAPFOLIO_PRICE_PROVIDER", "synthetic:unavailable=GGIPX+NEAIX")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    process_started = time.perf_counter()
    from flows.prefect_server import ensure_prefect_server, quiet_prefect_console
    from snapfolio.core.settings import load_settings

    cold_start = _cold_server_start() if args.cold else None
    t0 = time.perf_counter()
    was_running = bool(os.environ.get("PREFECT_API_URL")) or (load_settings().home / "prefect.port").exists()
    ensure_prefect_server(load_settings().home)
    server_s = time.perf_counter() - t0
    quiet_prefect_console()
    t0 = time.perf_counter()
    from flows.flow import portfolio_batch

    import_s = time.perf_counter() - t0
    from benchmarks._db import scratch_database

    with scratch_database("snapfolio_bench_onboard"):
        from snapfolio.core.database import get_engine

        t0 = time.perf_counter()
        engine = get_engine()
        db_ready = time.perf_counter() - t0
        t0 = time.perf_counter()
        first = portfolio_batch(kind="onboarding", csv_path=args.file, name="bench", as_of=args.as_of)
        onboard_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        second = portfolio_batch(portfolios=["bench"], as_of=args.as_of)
        second_s = time.perf_counter() - t0
        with engine.connect() as conn:
            import sqlalchemy as sa

            counts = {t: conn.execute(sa.text(f"select count(*) from marts.{t}")).scalar()
                      for t in ("fct_portfolio_snapshots", "fct_position_values",
                                "fct_position_factor_exposures")}
        engine.dispose()
    phases = first["timings"]
    print(json.dumps({
        "benchmark": "onboarding",
        "file": Path(args.file).name,
        "as_of": args.as_of,
        "prefect_server": {"already_running": was_running, "ensure_s": round(server_s, 3),
                           "cold_start_s": round(cold_start, 3) if cold_start else None},
        "import_flow_modules_s": round(import_s, 3),
        "database_ready_s": round(db_ready, 3),
        "onboarding_end_to_end_s": round(onboard_s, 3),
        "phases_s": phases,
        "prefect_orchestration_overhead_s": round(onboard_s - sum(phases.values()), 3),
        "dbt_chunks": len(first["chunks"]),
        "second_run_s": round(second_s, 3),
        "second_run_phases_s": second["timings"],
        "process_total_s": round(time.perf_counter() - process_started, 3),
        "rows": counts,
        "price_requests": first["prices"].get("provider_requests"),
        "status": first["status"],
        "target_s": 15.0,
        "old_system_quoted_s": OLD_SYSTEM_SECONDS,
        "speedup_vs_old_system_quoted": round(OLD_SYSTEM_SECONDS / onboard_s, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
