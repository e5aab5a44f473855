"""Exposure layout benchmark: the candidate stores of the position x factor exposures
side by side on one synthetic book, in the same run, one JSON object on stdout.

    python benchmarks/exposure_layouts.py [--portfolios 100 --positions 20 --symbols 300]
                                          [--repeats 3] [--quick]

The book goes through the batch's own code first (flows.batch.execute_batch: a backfill
to --as-of and one daily increment), which gives the marts, the betas and the per-node
dbt timings of the shipped layout. Then, from those same inputs, each candidate in
schema `layouts` (benchmarks/sql/exposure_layouts_*.sql):
  long       (a) today's long table, one row per position x factor x session;
  wide       (b) one row per position x session, the factors in float8[] / int[] vectors
                 (the shipped store), read through a long-form view;
  wide_hash  (b') the same, hash-partitioned by portfolio_id (4 partitions);
  derived    (c) no table: a view joining positions x factors x betas at read time.
Measured: the write of the backfill (compute + insert, every session to --as-of) and
of the daily increment (delete + insert of the next session, --repeats times), the
gate's question (every open position x factor has a row, a beta or a reason) on the
daily session and on the whole history, the export of one portfolio, and the storage
(pg_total_relation_size, heap + indexes + TOAST). Ratios are against `long`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WIDE = ("wide", "wide_hash")
CANDIDATES = ("long", "wide", "wide_hash", "derived")


def _timed(engine, sql: str, params: dict) -> tuple[float, Any]:
    """One statement in its own transaction (commit included): seconds, scalar result."""
    import sqlalchemy as sa

    with engine.begin() as conn:
        t0 = time.perf_counter()
        result = conn.execute(sa.text(sql), params)
        value = result.scalar() if result.returns_rows else result.rowcount
        return time.perf_counter() - t0, value


def _sql(name: str, **fmt: str) -> str:
    from snapfolio.core.sql import load_sql

    text = load_sql(__file__, f"exposure_layouts_{name}")
    return text.format(**fmt) if fmt else text


def _long_relation(candidate: str) -> str:
    return {"long": "layouts.long", "derived": "layouts.derived"}.get(
        candidate, f"layouts.{candidate}_long")


def _write(engine, candidate: str, lo: date, hi: date) -> float:
    if candidate == "long":
        return _timed(engine, _sql("write_long"), {"lo": lo, "hi": hi})[0]
    return _timed(engine, _sql("write_wide", table=candidate), {"lo": lo, "hi": hi})[0]


def _size(engine, candidate: str) -> int:
    import sqlalchemy as sa

    with engine.connect() as conn:
        return int(conn.execute(sa.text(
            "select sum(pg_total_relation_size(c.oid)) from pg_class as c "
            "where c.oid = cast(:t as regclass) "
            "or c.oid in (select inhrelid from pg_inherits where inhparent = cast(:t as regclass))"),
            {"t": f"layouts.{candidate}"}).scalar())


def _median(values: list[float]) -> dict:
    return {"median": round(float(np.median(values)), 3), "runs": [round(v, 3) for v in values]}


def measure_layouts(engine, first: date, as_of: date, day: date, portfolio_id: int,
                    repeats: int) -> dict:
    """Every candidate on the same inputs; the orders rotate between repeats."""
    import sqlalchemy as sa

    with engine.begin() as conn:
        conn.execute(sa.text(_sql("setup")))
        for table in WIDE:
            conn.execute(sa.text(_sql("long_view", table=table)))
    out: dict[str, dict[str, Any]] = {c: {} for c in CANDIDATES}
    for c in CANDIDATES[:-1]:
        out[c]["backfill_write_s"] = round(_write(engine, c, first, as_of), 3)
    daily: dict[str, list[float]] = {c: [] for c in CANDIDATES[:-1]}
    for r in range(repeats):
        for c in np.roll(CANDIDATES[:-1], r):
            delete_s = _timed(engine, _sql("delete", table=c), {"lo": day, "hi": day})[0]
            daily[c].append(delete_s + _write(engine, c, day, day))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for c in CANDIDATES[:-1]:
            conn.execute(sa.text(f"vacuum analyze layouts.{c}"))
    reads: dict[str, dict[str, list[float]]] = {
        c: {"gate_daily": [], "gate_history": [], "export": []} for c in CANDIDATES}
    problems: dict[str, int] = {}
    for r in range(repeats):
        for c in np.roll(CANDIDATES, r):
            for key, (lo, hi) in (("gate_daily", (day, day)), ("gate_history", (first, day))):
                gate = (_sql("gate_wide", table=c) if c in WIDE
                        else _sql("gate", exposures=_long_relation(c)))
                seconds, problems[c] = _timed(engine, gate, {"lo": lo, "hi": hi})
                reads[c][key].append(seconds)
            reads[c]["export"].append(_timed(
                engine, f"select count(*) from ({_sql('export', exposures=_long_relation(c))}) as e",
                {"portfolio_id": portfolio_id})[0])
    for c in CANDIDATES:
        if c != "derived":
            out[c]["daily_write_s"] = _median(daily[c])
            out[c]["storage_bytes"] = _size(engine, c)
        else:
            out[c]["backfill_write_s"] = 0.0
            out[c]["daily_write_s"] = {"median": 0.0, "runs": []}
            out[c]["storage_bytes"] = 0
        out[c].update({k: _median(v) for k, v in reads[c].items()})
        out[c]["gate_problems"] = problems[c]
    with engine.connect() as conn:
        rows = {c: conn.execute(sa.text(f"select count(*) from {_long_relation(c)}")).scalar()
                for c in CANDIDATES}
        # the same long rows whatever the layout (reasons aside: the benchmark's views
        # abbreviate them), checked on one portfolio's whole history
        cols = "portfolio_id, position_id, snapshot_date, factor, beta, exposure_status"
        diff = {c: conn.execute(sa.text(
            f"select count(*) from ((select {cols} from layouts.long where portfolio_id = :p "
            f"except all select {cols} from {_long_relation(c)} where portfolio_id = :p) "
            f"union all (select {cols} from {_long_relation(c)} where portfolio_id = :p "
            f"except all select {cols} from layouts.long where portfolio_id = :p)) as d"),
            {"p": portfolio_id}).scalar()
            for c in CANDIDATES[1:]}
    base = out["long"]
    for c in CANDIDATES:
        out[c]["ratio_vs_long"] = {
            "backfill_write": round(out[c]["backfill_write_s"] / base["backfill_write_s"], 3),
            "daily_write": round(out[c]["daily_write_s"]["median"] / base["daily_write_s"]["median"], 3),
            "gate_daily": round(out[c]["gate_daily"]["median"] / base["gate_daily"]["median"], 3),
            "gate_history": round(out[c]["gate_history"]["median"] / base["gate_history"]["median"], 3),
            "export": round(out[c]["export"]["median"] / base["export"]["median"], 3),
            "storage": round(out[c]["storage_bytes"] / base["storage_bytes"], 3),
        }
    return {"candidates": out, "long_rows": rows, "rows_differing_from_long_one_portfolio": diff}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portfolios", type=int, default=100)
    parser.add_argument("--positions", type=int, default=20)
    parser.add_argument("--symbols", type=int, default=300)
    parser.add_argument("--as-of", default="2025-12-31")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small smoke size (10 × 10, 40 symbols)")
    args = parser.parse_args()
    if args.quick:
        args.portfolios, args.positions, args.symbols, args.repeats = 10, 10, 40, 1
    os.environ.setdefault("SNAPFOLIO_PRICE_PROVIDER", "synthetic")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    started = time.perf_counter()
    load_at_start = os.getloadavg()

    from benchmarks._db import scratch_database
    from benchmarks.scale import DbtRecorder, make_book, run_measured, store_book, symbol_names

    recorder = DbtRecorder()
    as_of = date.fromisoformat(args.as_of)
    first = date(as_of.year, 1, 1)
    with scratch_database("snapfolio_bench_layouts"):
        import sqlalchemy as sa

        from flows.batch import execute_batch
        from flows.request import BatchRequest
        from snapfolio.core import calendar
        from snapfolio.core.database import get_engine
        from snapfolio.core.settings import load_settings

        settings = load_settings()
        engine = get_engine(settings)
        book = make_book(args.portfolios, args.positions, symbol_names(args.symbols), first,
                         as_of, args.seed)
        store_book(engine, book)
        day = calendar.next_session(as_of)
        pipeline = {
            "backfill": run_measured("layouts backfill", lambda: execute_batch(
                BatchRequest(kind="backfill", as_of=as_of), settings=settings), recorder),
            "daily": run_measured("layouts daily", lambda: execute_batch(
                BatchRequest(kind="daily", as_of=day), settings=settings), recorder),
        }
        with engine.connect() as conn:
            portfolio_id = conn.execute(sa.text(
                "select portfolio_id from raw.portfolios order by portfolio_id "
                "offset (select count(*) / 2 from raw.portfolios) limit 1")).scalar()
            store_bytes = conn.execute(sa.text(
                "select pg_total_relation_size('marts_store.fct_position_exposure_vectors')")).scalar()
        layouts = measure_layouts(engine, first, as_of, day, portfolio_id, args.repeats)
        engine.dispose()
    exposure_nodes = ("int_position_factor_exposures", "fct_position_exposure_vectors",
                      "fct_position_factor_exposures", "fct_portfolio_factor_exposures")
    result = {
        "benchmark": "exposure_layouts",
        "database": "SNAPFOLIO_DATABASE_URL" if os.environ.get("SNAPFOLIO_DATABASE_URL") else "embedded",
        "cpus": os.cpu_count(),
        "load_average_at_start": load_at_start,
        "size": {"portfolios": args.portfolios, "positions": args.positions,
                 "symbols": args.symbols, "as_of": args.as_of, "daily_session": day.isoformat(),
                 "repeats": args.repeats},
        "shipped_pipeline": {
            phase: {"wall_s": run["wall_s"], "timings_s": run["timings_s"],
                    "exposure_dbt_node_s": {n: run["dbt_node_s"].get(n) for n in exposure_nodes}}
            for phase, run in pipeline.items()} | {"store_bytes": store_bytes},
        **layouts,
        "process_total_s": round(time.perf_counter() - started, 3),
    }
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
