"""Risk phase: after the accounting build, the vectorized risk computations (risk.run)
for every session whose risk rows are missing or stale, then the risk marts.

Runs under the dbt lock: raw.risk_work (the work set the risk marts read) is written,
computed, stored and built in one critical section. The risk marks that asked for the
work (flows.phases.plan.mark_risk_work, before the accounting build) are cleared only
after the marts are built, so a crash anywhere in between loses nothing: the next run
finds the marks and redoes it.
"""

from __future__ import annotations

import logging
import time
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from flows.dbt_runner import dbt_build
from ingest import restatements
from risk.run import compute_and_store, prepare_work
from snapfolio.core.locks import DBT_LOCK_KEY, session_lock
from snapfolio.core.settings import Settings

log = logging.getLogger(__name__)


def run_risk(engine: Engine, settings: Settings, url: URL, portfolio_ids: list[int],
             as_of: date) -> dict:
    """Compute and build the risk rows the portfolios need through as_of; returns stats."""
    started = time.perf_counter()
    with session_lock(engine, DBT_LOCK_KEY):
        with engine.begin() as conn:
            marked_before = conn.scalar(sa.text("select clock_timestamp()"))
            t0 = time.perf_counter()
            work = prepare_work(conn, portfolio_ids, as_of)
            prepare_s = round(time.perf_counter() - t0, 3)
            stats = compute_and_store(conn, as_of) if work else {"sessions": 0, "timings": {}}
            stats["timings"] = {"prepare": prepare_s, **stats["timings"]}
        if work:
            t0 = time.perf_counter()
            result = dbt_build(settings, url, select=["tag:risk"], models_only=True)
            stats["timings"]["dbt"] = round(time.perf_counter() - t0, 3)
            stats["dbt_rows"] = {k.split(".")[-1]: v for k, v in result.rows_affected.items()
                                 if k.startswith("model.")}
            stats["dbt_node_s"] = _node_seconds(result.timings)
        t0 = time.perf_counter()
        with engine.begin() as conn:
            restatements.clear_risk_marks(conn, portfolio_ids, marked_before)
        stats["timings"]["clear_marks"] = round(time.perf_counter() - t0, 3)
    stats["elapsed_s"] = round(time.perf_counter() - started, 3)
    log.info("risk: %d (portfolio, session) rows for %s portfolio(s) in %.2fs (%s)",
             stats.get("sessions", 0), stats.get("portfolios", 0), stats["elapsed_s"],
             ", ".join(f"{k} {v:.2f}s" for k, v in stats["timings"].items()))
    return stats


def _node_seconds(timings: dict[str, float]) -> dict[str, float]:
    """dbt's seconds per risk model, the data tests summed as `tests` (where the dbt
    step's time goes, for the run stats and the benchmarks)."""
    out: dict[str, float] = {}
    for node, seconds in timings.items():
        key = node.split(".")[-1] if node.startswith("model.") else "tests"
        out[key] = round(out.get(key, 0.0) + seconds, 3)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))
