"""Run `dbt build` in-process against the same database the Python code uses.

The build's scope (as_of, portfolio ids) is one row of raw.build_scope keyed by a fresh
build id (`build_scope`), and the id reaches dbt as a setting of its connections
(`-c snapfolio.build_id=...` in PGOPTIONS), which stg_build_scope (and stg_risk_work,
for the risk phase's own rows of raw.risk_work) filters on. Not a --vars value: a
changed --vars makes dbt re-parse the whole project, while the compiled project stays
the same here, so partial parsing stays valid and a build costs no re-parse.

What two builds (two shards, disjoint portfolios) share, and how (issue #18):
* their scope and risk work: nothing shared, each reads its own rows by build id;
* their working tables and dbt state: each build takes a free slot (`build_slot`, a
  pooled advisory lock): its own intermediate schema (intermediate_<slot>) and dbt
  target directory (partial-parse state; a slot's first build parses once), never used
  by two builds at once;
* the views and seeds (staging, the marts' views, raw_seeds): rebuilt only when the
  project changed (`project_lock` yields whether they are current), exclusively, while
  every other build holds the project lock shared, so no build reads a view being
  swapped and normal builds never wait for each other;
* the marts: written per portfolio (disjoint), except the session-keyed factor
  covariances (upserted, dbt_project/macros/upsert.sql);
* the restatement marks: a build stamps its start under its slot's stamp key for an
  instant (waiting out mark writers in flight), never across the build.
No lock is held across a build that another normal build could wait for
(snapfolio/core/locks.py).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from snapfolio.core.database import dbt_env
from snapfolio.core.locks import (
    DBT_PROJECT_LOCK_KEY,
    DBT_SLOT_LOCK_CLASS,
    DBT_SLOTS,
    pooled_lock,
    session_lock,
    stamp_build_start,
)
from snapfolio.core.settings import Settings

SLOT_RE = re.compile(r"[a-z0-9]{1,20}")


@dataclass(frozen=True)
class Slot:
    """Slot `index` of the pool (DBT_SLOTS of them): `name` "" for 0 (schema
    intermediate, target dir dbt_target), then s1, s2, ... A slot leaves its schema
    and target directory behind for the next build that takes it."""

    index: int

    @property
    def name(self) -> str:
        return f"s{self.index}" if self.index else ""


@contextmanager
def build_slot(engine: sa.Engine) -> Iterator[Slot]:
    """A slot no other build is using, held for the block (its name goes to
    `dbt_build(slot=...)`, its index to `stamp_build_start`): the first free
    (DBT_SLOT_LOCK_CLASS, i), never waited on while one is free, so concurrent builds
    each take their own; a crashed process frees its slot with its connection."""
    with pooled_lock(engine, DBT_SLOT_LOCK_CLASS, DBT_SLOTS) as i:
        yield Slot(i)


def intermediate_schema(slot: str) -> str:
    """The schema of a slot's working tables (dbt macro generate_schema_name)."""
    return f"intermediate_{slot}" if slot else "intermediate"


class DbtBuildError(RuntimeError):
    """dbt build failed; the message names the failing nodes."""


@dataclass
class DbtResult:
    elapsed_s: float
    nodes: dict[str, str] = field(default_factory=dict)  # unique_id -> status
    rows_affected: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # unique_id -> seconds


def project_fingerprint(project_dir: Path) -> str:
    """Hash of every file dbt compiles: a change means views and seeds must be rebuilt."""
    digest = hashlib.sha256()
    for path in sorted(project_dir.rglob("*")):
        if path.suffix in (".sql", ".yml", ".yaml", ".csv") and "target" not in path.parts:
            digest.update(str(path.relative_to(project_dir)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def views_and_seeds_current(conn: sa.Connection, fingerprint: str) -> bool:
    """True when the last full build was of this exact project and its views still exist.

    The shared relations only (views, seeds): the intermediate tables are a slot's own
    and every build rebuilds its slot's."""
    stored = conn.execute(sa.text("select project_fingerprint from raw.dbt_state")).scalar()
    if stored != fingerprint:
        return False
    present = conn.execute(sa.text(
        "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where (n.nspname, c.relname) in (('staging', 'stg_positions'), ('marts', "
        "'fct_position_factor_exposures'), ('marts', 'portfolio_watermarks'), "
        "('raw_seeds', 'factor_definitions'))"
    )).scalar()
    return present == 4


@contextmanager
def project_lock(engine: sa.Engine, fingerprint: str, *, exclusive: bool = False) -> Iterator[bool]:
    """Hold the dbt project lock for a build; yields whether the views and seeds are
    current (`views_and_seeds_current`).

    When they are (and `exclusive` is not asked for) the lock is held shared: any
    number of such builds run at once. Otherwise the build rebuilds the views and
    seeds, which every other build reads, so it holds the lock exclusively: it waits
    for the builds in progress and later ones wait for it. `exclusive` is for the other
    builds that create or swap shared relations: a full refresh, and the first risk
    build (it creates the risk marts). The shared lock is let go before the exclusive
    one is asked for (a session cannot upgrade), and currency is read again under it
    (another build may have just rebuilt)."""
    with session_lock(engine, DBT_PROJECT_LOCK_KEY, shared=True):
        with engine.connect() as conn:
            current = views_and_seeds_current(conn, fingerprint)
        if current and not exclusive:
            yield True
            return
    with session_lock(engine, DBT_PROJECT_LOCK_KEY):
        with engine.connect() as conn:
            current = views_and_seeds_current(conn, fingerprint)
        yield current


def record_full_build(conn: sa.Connection, fingerprint: str) -> None:
    conn.execute(
        sa.text("insert into raw.dbt_state (project_fingerprint) values (:f) on conflict (singleton) "
                "do update set project_fingerprint = excluded.project_fingerprint, built_at = now()"),
        {"f": fingerprint},
    )


def write_build_scope(conn: sa.Connection, as_of: date, portfolio_ids: list[int] | None) -> str:
    """Insert this build's own scope row; returns its build id (for `dbt_build`)."""
    build_id = uuid.uuid4().hex
    conn.execute(
        sa.text("insert into raw.build_scope (build_id, as_of, portfolio_ids, hostname, pid) "
                "values (:b, :a, :p, :h, :pid)"),
        {"b": build_id, "a": as_of, "p": list(portfolio_ids) if portfolio_ids else None,
         "h": socket.gethostname(), "pid": os.getpid()},
    )
    return build_id


def drop_build_scope(conn: sa.Connection, build_id: str) -> None:
    conn.execute(sa.text("delete from raw.build_scope where build_id = :b"), {"b": build_id})


@contextmanager
def build_scope(engine: sa.Engine, as_of: date, portfolio_ids: list[int] | None) -> Iterator[str]:
    """A scope row committed for the length of one build, deleted after it (even on error)."""
    with engine.begin() as conn:
        build_id = write_build_scope(conn, as_of, portfolio_ids)
    try:
        yield build_id
    finally:
        with engine.begin() as conn:
            drop_build_scope(conn, build_id)


@dataclass(frozen=True)
class BuildSession:
    """What a build holds while it runs (`build_session`)."""

    current: bool  # the views and seeds are of this project (no rebuild needed)
    slot: Slot
    started: datetime  # the marks stamped before it are the ones this build may consume
    build_id: str
    fingerprint: str  # project_fingerprint, to record after a rebuild


@contextmanager
def build_session(engine: sa.Engine, settings: Settings, as_of: date,
                  portfolio_ids: list[int] | None, *, exclusive: bool = False
                  ) -> Iterator[BuildSession]:
    """The one entry of every build (the accounting chunks and the risk phase): the
    project lock (`project_lock`, shared unless a rebuild or `exclusive`), a free slot,
    the start stamp under the slot's stamp key, and the build's own scope row, in that
    order; released in reverse."""
    fingerprint = project_fingerprint(settings.dbt_project_dir)
    with (project_lock(engine, fingerprint, exclusive=exclusive) as current,
          build_slot(engine) as slot):
        started = stamp_build_start(engine, slot.index)
        with build_scope(engine, as_of, portfolio_ids) as build_id:
            yield BuildSession(current, slot, started, build_id, fingerprint)


def drop_dead_build_scopes(conn: sa.Connection, pid_alive: Callable[[int], bool]) -> int:
    """Scope rows of builds whose process is gone (same host, pid not alive) or that are
    older than a day (no build lasts that long): what a crash mid-build leaves behind;
    with them, the risk work rows (raw.risk_work) of builds that have no scope row
    any more (a live build writes its scope row before its work rows, and commits it)."""
    rows = conn.execute(sa.text(
        "select build_id, hostname, pid, created_at < clock_timestamp() - interval '1 day' "
        "as expired from raw.build_scope")).all()
    host = socket.gethostname()
    dead = [r.build_id for r in rows
            if r.expired or (r.hostname == host and (r.pid is None or not pid_alive(r.pid)))]
    if dead:
        conn.execute(sa.text("delete from raw.build_scope where build_id = any(:b)"), {"b": dead})
    conn.execute(sa.text(
        "delete from raw.risk_work as w where not exists "
        "(select 1 from raw.build_scope as b where b.build_id = w.build_id)"))
    return len(dead)


def dbt_build(
    settings: Settings,
    url: URL,
    *,
    select: list[str] | None = None,
    exclude: list[str] | None = None,
    full_refresh: bool = False,
    unit_tests: bool = False,
    data_tests: bool = True,
    models_only: bool = False,
    build_id: str | None = None,
    slot: str = "",
) -> DbtResult:
    """`dbt build` (models, seeds, data tests); raises DbtBuildError on failure.

    `build_id` names this build's raw.build_scope row (`build_scope`) and, for the risk
    marts, its rows of raw.risk_work. `slot` (a short [a-z0-9] name, held by the caller
    with `build_slot`) gives the build its own intermediate schema (intermediate_<slot>),
    dbt target directory and log directory, so builds in different slots can run at the
    same time. Unit tests check the SQL, not the data, so batch runs skip them; the
    test suite runs them (unit_tests=True).
    """
    import time

    from dbt.cli.main import dbtRunner

    if slot and not SLOT_RE.fullmatch(slot):
        raise ValueError(f"dbt slot {slot!r}: must be 1-20 characters a-z, 0-9")
    env = {**dbt_env(url), "SNAPFOLIO_DBT_SLOT": slot}
    # every connection dbt opens in this invocation carries the build id and has the
    # slot's intermediate schema on its search_path (the grain tests' unqualified
    # var work_set_rows); libpq reads PGOPTIONS at connect time, and dbt runs one
    # invocation per process at a time
    options = [env.get("PGOPTIONS", ""), f"-c search_path={intermediate_schema(slot)},public"]
    if build_id is not None:
        options.append(f"-c snapfolio.build_id={build_id}")
    env["PGOPTIONS"] = " ".join(o for o in options if o)
    os.environ.update(env)
    # a slot's own target dir: its partial-parse state is written by one build at a time
    # and always for the same SNAPFOLIO_DBT_SLOT (read by generate_schema_name), so it
    # stays valid and a slot's first build is its only full parse
    target = settings.home / (f"dbt_target_{slot}" if slot else "dbt_target")
    logs = settings.home / (f"dbt_logs_{slot}" if slot else "dbt_logs")
    args = [
        "build",
        "--project-dir", str(settings.dbt_project_dir),
        "--profiles-dir", str(settings.project_root),
        "--target-path", str(target),
        "--log-path", str(logs),
        "--quiet",
        # nothing reads manifest.json or run_results.json (the result object carries
        # every node's status, timing and rows): writing them cost ~0.3 s per build
        "--no-write-json",
    ]
    if select:
        args += ["--select", *select]
    excluded_nodes = list(exclude or [])
    if models_only:
        # later chunks of a run: views and seeds are already current, only tables move
        excluded_nodes += ["config.materialized:view", "resource_type:seed"]
    if excluded_nodes:
        args += ["--exclude", *excluded_nodes]
    if full_refresh:
        args.append("--full-refresh")
    excluded = ([] if unit_tests else ["unit_test"]) + ([] if data_tests else ["test"])
    if excluded:
        args += ["--exclude-resource-type", *excluded]
    started = time.perf_counter()
    try:
        res = dbtRunner().invoke(args)
    finally:
        # never leak the id into the process's later connections
        os.environ["PGOPTIONS"] = dbt_env(url).get("PGOPTIONS", "")
    elapsed = time.perf_counter() - started
    result = DbtResult(elapsed_s=elapsed)
    failures = []
    if res.result is not None and hasattr(res.result, "results"):
        for node_result in res.result.results:
            status = str(node_result.status)
            result.nodes[node_result.node.unique_id] = status
            result.timings[node_result.node.unique_id] = round(
                float(getattr(node_result, "execution_time", 0.0) or 0.0), 3)
            rows = (node_result.adapter_response or {}).get("rows_affected")
            if rows is not None:
                result.rows_affected[node_result.node.unique_id] = int(rows)
            if status in ("error", "fail", "runtime error"):
                failures.append(f"{node_result.node.unique_id}: {(node_result.message or status).splitlines()[0]}")
    if not res.success:
        detail = "; ".join(failures) if failures else str(res.exception)
        raise DbtBuildError(f"dbt build failed: {detail}")
    return result
