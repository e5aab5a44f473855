"""`scale.py --workers 1,2`: the same book backfilled and then advanced day by day by W
worker processes at once, each a batch run of its shard (portfolio_id mod W, what
`snapfolio run --shards W` gives each worker), for each W in the list, in one run.

Where the time goes, per phase: wall seconds, the worker's own CPU seconds (Python:
pandas/numpy, dbt's compiler, GX; `time.process_time` in the worker) and PostgreSQL's
CPU seconds (every backend of the local server, read from /proc: exact for W = 1, the
sum over the concurrent workers' backends for W > 1). PostgreSQL CPU is only read when
the server runs on this machine (the local one or the embedded one).
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def postgres_cpu_s() -> float:
    """CPU seconds (user + system) of every `postgres` process on this machine, those
    that ended included: a backend's time moves to its parent's (the postmaster's)
    children counters when it exits, so the sum never goes backwards as connections
    come and go."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        if name.startswith("postgres"):
            fields = stat[stat.rindex(")") + 2:].split()
            # utime, stime, and cutime, cstime (ended children: backends, workers)
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / CLOCK_TICKS


def _metered(name: str, fn: Any, meters: dict[str, dict[str, float]]) -> Any:
    def run(*args: Any, **kwargs: Any) -> Any:
        wall, cpu, pg = time.perf_counter(), time.process_time(), postgres_cpu_s()
        try:
            return fn(*args, **kwargs)
        finally:
            m = meters.setdefault(name, {"wall_s": 0.0, "python_cpu_s": 0.0, "postgres_cpu_s": 0.0})
            m["wall_s"] += time.perf_counter() - wall
            m["python_cpu_s"] += time.process_time() - cpu
            m["postgres_cpu_s"] += postgres_cpu_s() - pg
    return run


def _shard_run(url: str, home: str, kind: str, as_of: str, names: list[str]) -> dict:
    """One worker: a batch run of its shard (in its own process, like a Prefect worker's
    flow run subprocess); returns the run's timings and the metered phases."""
    os.environ["SNAPFOLIO_DATABASE_URL"] = url
    os.environ["SNAPFOLIO_HOME"] = home
    os.environ.setdefault("SNAPFOLIO_PRICE_PROVIDER", "synthetic")
    from dataclasses import fields

    from flows.batch import PLAIN, Phases, execute_batch
    from flows.request import BatchRequest
    from snapfolio.core.settings import load_settings

    meters: dict[str, dict[str, float]] = {}
    phases = Phases(**{f.name: _metered(f.name, getattr(PLAIN, f.name), meters)
                       for f in fields(Phases)})
    t0 = time.perf_counter()
    summary = execute_batch(BatchRequest(kind=kind, as_of=date.fromisoformat(as_of),
                                         portfolios=names),
                            settings=load_settings(), phases=phases)
    return {"wall_s": round(time.perf_counter() - t0, 3), "status": summary.status,
            "portfolios": len(names), "timings_s": summary.timings,
            "phases": {k: {m: round(v, 3) for m, v in d.items()} for k, d in meters.items()},
            "error": summary.error}


def _round(run: list[dict], wall: float, pg_cpu: float) -> dict:
    phases: dict[str, dict[str, float]] = {}
    for shard in run:
        for name, m in shard["phases"].items():
            agg = phases.setdefault(name, {"wall_s_max": 0.0, "python_cpu_s": 0.0})
            agg["wall_s_max"] = round(max(agg["wall_s_max"], m["wall_s"]), 3)
            agg["python_cpu_s"] = round(agg["python_cpu_s"] + m["python_cpu_s"], 3)
            if len(run) == 1:
                agg["postgres_cpu_s"] = round(m["postgres_cpu_s"], 3)
    return {"wall_s": round(wall, 3), "postgres_cpu_s": round(pg_cpu, 3),
            "python_cpu_s": round(sum(p["python_cpu_s"] for p in phases.values()), 3),
            "phases": phases, "shards": run}


def compare_workers(args: Any, workers: list[int], first: date) -> dict:
    """For each W: a fresh database with the book, the backfill and `args.daily_runs`
    daily increments, each round W shard runs in parallel processes."""
    import sqlalchemy as sa

    from benchmarks._db import scratch_database
    from benchmarks.scale import make_book, store_book, symbol_names
    from snapfolio.core import calendar
    from snapfolio.core.database import get_engine
    from snapfolio.core.settings import load_settings

    as_of = date.fromisoformat(args.as_of)
    symbols = symbol_names(args.symbols)
    book = make_book(args.portfolios, args.positions, symbols, first, as_of, args.seed)
    out: dict[str, Any] = {"book": {"portfolios": len(book),
                                    "positions": sum(len(r) for _, r in book)}}
    ctx = multiprocessing.get_context("spawn")
    for w in workers:
        with scratch_database(f"snapfolio_bench_workers_{w}", keep=args.keep_databases) as url:
            engine = get_engine(load_settings())
            store_book(engine, book)
            with engine.connect() as conn:
                ids = conn.execute(sa.text(
                    "select portfolio_id, name from raw.portfolios order by portfolio_id")).all()
            engine.dispose()
            shards = [[name for pid, name in ids if pid % w == k] for k in range(w)]
            home = os.environ["SNAPFOLIO_HOME"]
            rounds: dict[str, Any] = {}
            day, kind = as_of, "backfill"
            with ctx.Pool(w) as pool:
                for step in range(1 + args.daily_runs):
                    wall, pg = time.perf_counter(), postgres_cpu_s()
                    run = pool.starmap(_shard_run, [(url, home, kind, day.isoformat(), names)
                                                    for names in shards])
                    result = _round(run, time.perf_counter() - wall, postgres_cpu_s() - pg)
                    failed = [r for r in run if r["status"] == "failed"]
                    if failed:
                        raise RuntimeError(f"{w} worker(s), {kind} {day}: {failed[0]['error']}")
                    label = "backfill" if step == 0 else f"daily {day}"
                    rounds[label] = result
                    print(f"[scale] {w} worker(s) {label}: {result['wall_s']:.1f} s "
                          f"(python cpu {result['python_cpu_s']:.1f} s, postgres cpu "
                          f"{result['postgres_cpu_s']:.1f} s)", file=sys.stderr, flush=True)
                    day, kind = calendar.next_session(day), "daily"
            dailies = [v["wall_s"] for k, v in rounds.items() if k.startswith("daily")]
            out[f"{w}_workers"] = {"backfill_s": rounds["backfill"]["wall_s"],
                                   "daily_s": dailies, "rounds": rounds}
    if "1_workers" in out:
        out["capacity"] = capacity(out["1_workers"], len(book))
    if len(workers) > 1:
        base, other = workers[0], workers[-1]
        b, o = out[f"{base}_workers"], out[f"{other}_workers"]
        out["speedup"] = {
            "workers": [base, other],
            "backfill": round(b["backfill_s"] / o["backfill_s"], 3),
            "daily_median": round(statistics.median(b["daily_s"]) / statistics.median(o["daily_s"]), 3)
            if b["daily_s"] and o["daily_s"] else None,
        }
    return out


def capacity(one_worker: dict, portfolios: int, target: int = 100_000,
             workers: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64),
             postgres_cores: tuple[int, ...] = (2, 8, 32)) -> dict:
    """Extrapolate the measured W = 1 costs to `target` portfolios: per portfolio, the
    Python CPU seconds (its worker) and PostgreSQL CPU seconds (the one server) of a
    backfill and of a daily increment. A worker's flow run is one process that either
    computes or waits on its queries, so W workers finish the book in about
    target / W × (python + postgres per portfolio), unless the server's cores are the
    bound: target × postgres per portfolio / P. PostgreSQL saturates from
    W* = P × (python + postgres) / postgres workers on."""
    model: dict[str, Any] = {"target_portfolios": target, "assumes": (
        "costs linear in portfolios (the book's 20 positions each), one flow run per "
        "worker at a time, the server's CPU the shared bound (its disk and WAL not "
        "modelled), the factors phase's per-symbol work not repeated per shard")}
    for label, rounds in (("backfill", [one_worker["rounds"]["backfill"]]),
                          ("daily", [v for k, v in one_worker["rounds"].items()
                                     if k.startswith("daily")])):
        if not rounds:
            continue
        py = statistics.median([r["python_cpu_s"] for r in rounds]) / portfolios
        pg = statistics.median([r["postgres_cpu_s"] for r in rounds]) / portfolios
        wall = statistics.median([r["wall_s"] for r in rounds]) / portfolios
        rows = {}
        for p in postgres_cores:
            rows[f"postgres_{p}_cores"] = {
                "saturates_at_workers": round(p * (py + pg) / pg, 1) if pg else None,
                "minutes_by_workers": {w: round(max(target / w * max(wall, py + pg),
                                                    target * pg / p) / 60, 1)
                                       for w in workers}}
        model[label] = {"per_portfolio_s": {"wall": round(wall, 5), "python_cpu": round(py, 5),
                                            "postgres_cpu": round(pg, 5)},
                        **rows}
    return model
