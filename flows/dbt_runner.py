"""Run `dbt build` in-process against the same database the Python code uses.

The run's scope (as_of, portfolio ids) is written to raw.build_scope right before the
build instead of being passed as --vars: the compiled project then never changes, so
dbt's partial parsing stays valid and a build costs no re-parse. The caller holds the
global dbt advisory lock, so one scope row is enough.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from snapfolio.core.database import dbt_env
from snapfolio.core.settings import Settings


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


def write_build_scope(conn: sa.Connection, as_of: date, portfolio_ids: list[int] | None) -> None:
    conn.execute(sa.text("delete from raw.build_scope"))
    conn.execute(
        sa.text("insert into raw.build_scope (as_of, portfolio_ids) values (:a, :p)"),
        {"a": as_of, "p": list(portfolio_ids) if portfolio_ids else None},
    )


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
) -> DbtResult:
    """`dbt build` (models, seeds, data tests); raises DbtBuildError on failure.

    Unit tests check the SQL, not the data, so batch runs skip them; the test suite
    runs them (unit_tests=True).
    """
    import time

    from dbt.cli.main import dbtRunner

    os.environ.update(dbt_env(url))
    target = settings.home / "dbt_target"
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
    res = dbtRunner().invoke(args)
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
