"""Run `dbt build` in-process against the same database the Python code uses.

The build's scope (as_of, portfolio ids) is one row of raw.build_scope keyed by a fresh
build id (`build_scope`), and the id reaches dbt as a setting of its connections
(`-c snapfolio.build_id=...` in PGOPTIONS), which stg_build_scope filters on. Not a
--vars value: a changed --vars makes dbt re-parse the whole project, while the
compiled project stays the same here, so partial parsing stays valid and a build costs
no re-parse. Each invocation reads only its own row, so two builds of disjoint
portfolios never see each other's scope; the global dbt lock (flows/phases/dbt_build.py)
is still taken around a build, but nothing here needs it any more (see README: it could
be narrowed to the view/seed rebuild and to builds of overlapping portfolios).
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
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from snapfolio.core.database import dbt_env
from snapfolio.core.settings import Settings

SLOT_RE = re.compile(r"[a-z0-9]{1,20}")


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
    """True when the last full build was of this exact project and its views still exist."""
    stored = conn.execute(sa.text("select project_fingerprint from raw.dbt_state")).scalar()
    if stored != fingerprint:
        return False
    present = conn.execute(sa.text(
        "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
        "where (n.nspname, c.relname) in (('staging', 'stg_positions'), ('intermediate', "
        "'int_positions'), ('marts', 'portfolio_watermarks'), ('raw_seeds', 'factor_definitions'))"
    )).scalar()
    return present == 4


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


def drop_dead_build_scopes(conn: sa.Connection, pid_alive: Callable[[int], bool]) -> int:
    """Scope rows of builds whose process is gone (same host, pid not alive) or that are
    older than a day (no build lasts that long): what a crash mid-build leaves behind."""
    rows = conn.execute(sa.text(
        "select build_id, hostname, pid, created_at < clock_timestamp() - interval '1 day' "
        "as expired from raw.build_scope")).all()
    host = socket.gethostname()
    dead = [r.build_id for r in rows
            if r.expired or (r.hostname == host and (r.pid is None or not pid_alive(r.pid)))]
    if dead:
        conn.execute(sa.text("delete from raw.build_scope where build_id = any(:b)"), {"b": dead})
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

    `build_id` names this build's raw.build_scope row (`build_scope`); a build of models
    that read no scope (the risk marts) passes none. `slot` (a short [a-z0-9] name)
    gives the build its own intermediate schema (intermediate_<slot>) and dbt target
    directory, so builds in different slots can run at the same time; the default slot
    is the one the global dbt lock serializes. Unit tests check the SQL, not the
    data, so batch runs skip them; the test suite runs them (unit_tests=True).
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
    target = settings.home / (f"dbt_target_{slot}" if slot else "dbt_target")
    args = [
        "build",
        "--project-dir", str(settings.dbt_project_dir),
        "--profiles-dir", str(settings.project_root),
        "--target-path", str(target),
        "--log-path", str(settings.home / "dbt_logs"),
        "--quiet",
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
