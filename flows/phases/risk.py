"""Risk phase: after the accounting build, the vectorized risk computations (risk.run)
for every session whose risk rows are missing or stale, then the risk marts.

Run-scoped, so two risk phases of disjoint portfolios (shards) run at once: the work
set is this phase's own rows of raw.risk_work, under the id of its raw.build_scope row
(its dbt connections carry the id; stg_risk_work reads only its rows), deleted after
the phase; the risk dbt build runs in its own slot (flows/dbt_runner.build_slot); the
numbers are stored per portfolio, except the session-keyed factor covariances and
stress moves, which are upserted (risk/sql/store_factor_risk.sql). Locks
(snapfolio/core/locks.py): the dbt project lock shared (exclusive for the first risk
build, which creates the shared risk marts), and `marked_before` stamped under the
slot's stamp lock for an instant, so a risk mark is either seen by this phase or stamped
after it. The risk marks that asked for the work (flows.phases.plan.mark_risk_work,
before the accounting build) are cleared only after the marts are built, so a crash
anywhere in between loses nothing: the next run finds the marks and redoes it.
"""

from __future__ import annotations

import logging
import time
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from flows.dbt_runner import build_session, dbt_build
from ingest import restatements
from risk.inputs import drop_work
from risk.run import compute_and_store, prepare_work
from snapfolio.core.settings import Settings

log = logging.getLogger(__name__)

# The risk models' relations that every risk build shares (the others are tables in
# the build slot's intermediate schema, or ephemeral): the first risk build creates
# them, alone (tests/test_dbt_structure.py keeps this list equal to the project's).
SHARED_RISK_RELATIONS = (
    "marts.fct_factor_covariances", "marts.fct_portfolio_risk",
    "marts.fct_portfolio_sector_exposures", "marts.fct_portfolio_stress_results",
    "marts.fct_position_correlations", "marts.fct_position_risk",
    "marts_store.int_portfolio_drawdowns",
)


def shared_risk_relations_exist(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(
            sa.text("select bool_and(to_regclass(r) is not null) from unnest(cast(:r as text[])) as r"),
            {"r": list(SHARED_RISK_RELATIONS)}).scalar())


def run_risk(engine: Engine, settings: Settings, url: URL, portfolio_ids: list[int],
             as_of: date) -> dict:
    """Compute and build the risk rows the portfolios need through as_of; returns stats."""
    started = time.perf_counter()
    with build_session(engine, settings, as_of, portfolio_ids,
                       exclusive=not shared_risk_relations_exist(engine)) as build:
        try:
            stats = _compute_and_build(engine, settings, url, portfolio_ids, as_of,
                                       build.build_id, build.slot.name)
        finally:
            with engine.begin() as conn:
                drop_work(conn, build.build_id)
        t0 = time.perf_counter()
        with engine.begin() as conn:
            restatements.clear_risk_marks(conn, portfolio_ids, build.started)
        stats["timings"]["clear_marks"] = round(time.perf_counter() - t0, 3)
    stats["elapsed_s"] = round(time.perf_counter() - started, 3)
    log.info("risk: %d (portfolio, session) rows for %s portfolio(s) in %.2fs (%s)",
             stats.get("sessions", 0), stats.get("portfolios", 0), stats["elapsed_s"],
             ", ".join(f"{k} {v:.2f}s" for k, v in stats["timings"].items()))
    return stats


def _compute_and_build(engine: Engine, settings: Settings, url: URL, portfolio_ids: list[int],
                       as_of: date, build_id: str, slot: str) -> dict:
    t0 = time.perf_counter()
    # the work set in its own short transaction: its `analyze` holds a lock on
    # raw.risk_work until commit, which another risk phase's `analyze` would wait for
    with engine.begin() as conn:
        work = prepare_work(conn, build_id, portfolio_ids, as_of)
    prepare_s = round(time.perf_counter() - t0, 3)
    if not work:
        return {"sessions": 0, "timings": {"prepare": prepare_s}}
    with engine.begin() as conn:
        stats = compute_and_store(conn, as_of, build_id)
    stats["timings"] = {"prepare": prepare_s, **stats["timings"]}
    t0 = time.perf_counter()
    result = dbt_build(settings, url, select=["tag:risk"], models_only=True,
                       build_id=build_id, slot=slot)
    stats["timings"]["dbt"] = round(time.perf_counter() - t0, 3)
    stats["dbt_rows"] = {k.split(".")[-1]: v for k, v in result.rows_affected.items()
                         if k.startswith("model.")}
    stats["dbt_node_s"] = _node_seconds(result.timings)
    return stats


def _node_seconds(timings: dict[str, float]) -> dict[str, float]:
    """dbt's seconds per risk model, the data tests summed as `tests` (where the dbt
    step's time goes, for the run stats and the benchmarks)."""
    out: dict[str, float] = {}
    for node, seconds in timings.items():
        key = node.split(".")[-1] if node.startswith("model.") else "tests"
        out[key] = round(out.get(key, 0.0) + seconds, 3)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))
