"""The post-run data-quality gate: run every check through the GX checkpoint, write
Data Docs, and turn the result into a small report the flow and the CLI can act on.

A failed check of severity 'error' fails the run; of severity 'warning' it makes the run
`completed_with_warnings`. A check that cannot even run (a missing table, broken SQL)
counts as failed — never as skipped — so a phase that silently stopped producing a
mart cannot slip through.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from expectations.checks import CHECKS, Severity, load_severities
from expectations.context import (
    build_data_docs,
    context_root,
    data_docs_index,
    ensure_checkpoint,
    open_context,
    scope_query,
)
from expectations.offline_index import write_offline_index
from snapfolio.core.database import get_engine, resolve_url
from snapfolio.core.locks import CHECK_LOCK_KEY, session_lock
from snapfolio.core.settings import Settings

LOCK_TIMEOUT_S = 120
MAX_DETAILS = 50  # offenders spelled out per check; the rest are counted

Status = Literal["passed", "warnings", "failed"]


class CheckGateError(RuntimeError):
    """The gate itself could not run (lock timeout, GX failure): the run must fail."""


@dataclass
class CheckReport:
    """Outcome of one gate run: `success` is False only for an error-severity failure."""

    success: bool
    status: Status
    results: list[dict[str, Any]] = field(default_factory=list)
    data_docs_index: Path | None = None
    elapsed_s: float = 0.0

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.results if not r["success"]]

    def summary_lines(self) -> list[str]:
        """One line per failed check, ready for the CLI, logs or a Prefect artifact."""
        return [f"{r['severity']}: {r['name']}: {r['details']}" for r in self.failed]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (run history stats, `--json`)."""
        data = asdict(self)
        data["data_docs_index"] = str(self.data_docs_index) if self.data_docs_index else None
        return data


def run_checks(
    settings: Settings,
    *,
    as_of: date,
    portfolio_ids: list[int] | None = None,
    since: date | None = None,
    current_run_id: str | None = None,
    engine: Engine | None = None,
) -> CheckReport:
    """Run the checkpoint for this scope and write Data Docs; never modifies data.

    portfolio_ids: the run's portfolios (None = every active portfolio).
    since: earliest session the run computed; bounds the (large) exposure check.
    current_run_id: the calling run, which is legitimately still 'running'.
    """
    started = time.perf_counter()
    severities = load_severities()
    url = resolve_url(settings)
    engine = engine or get_engine(settings)
    scope_sql = scope_query(as_of, portfolio_ids, since, current_run_id)
    # the run name becomes a directory of the validation store: keep it path-safe
    run_name = re.sub(r"[^A-Za-z0-9_.-]", "_", current_run_id or f"check-{as_of.isoformat()}")
    with _gate_lock(engine):
        try:
            ctx = open_context(settings, url)  # imports GX, analytics off first
            from great_expectations.core.run_identifier import RunIdentifier

            checkpoint = ensure_checkpoint(ctx, severities, scope_sql)
            result = checkpoint.run(
                run_id=RunIdentifier(run_name=run_name, run_time=datetime.now(UTC))
            )
            build_data_docs(ctx, result)
            write_offline_index(context_root(settings), data_docs_index(settings))
        except Exception as exc:  # GX raised instead of recording a failed expectation
            raise CheckGateError(f"data-quality checkpoint could not run: {exc}") from exc
    results = _collect(result, severities)
    error_failed = any(not r["success"] and r["severity"] == "error" for r in results)
    warned = any(not r["success"] for r in results)
    return CheckReport(
        success=not error_failed,
        status="failed" if error_failed else ("warnings" if warned else "passed"),
        results=results,
        data_docs_index=data_docs_index(settings),
        elapsed_s=round(time.perf_counter() - started, 3),
    )


@contextmanager
def _gate_lock(engine: Engine) -> Iterator[None]:
    """Serialize gate runs: the run scope and Data Docs live in one shared gx/ directory.

    A session advisory lock dies with its connection, so a crashed run cannot leave it held.
    """
    try:
        lock = session_lock(engine, CHECK_LOCK_KEY, timeout_s=LOCK_TIMEOUT_S)
        lock.__enter__()
    except sa.exc.OperationalError as exc:
        raise CheckGateError(
            f"another data-quality check held the lock for over {LOCK_TIMEOUT_S} s"
        ) from exc
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


def _collect(result: Any, severities: dict[str, Severity]) -> list[dict[str, Any]]:
    """Per-check dicts in CHECKS order; a check missing from the result counts as failed."""
    found: dict[str, dict[str, Any]] = {}
    for suite_result in result.run_results.values():
        for expectation_result in suite_result.results:
            name = (expectation_result.expectation_config.meta or {}).get("check")
            if name:
                found[name] = _one(name, severities[name], expectation_result)
    return [
        found.get(check.name)
        or {
            "name": check.name,
            "severity": severities[check.name],
            "success": False,
            "details": "check did not run (missing from the checkpoint result)",
            "unexpected_count": 0,
        }
        for check in CHECKS
    ]


def _one(name: str, severity: Severity, res: Any) -> dict[str, Any]:
    error = _exception_message(res.exception_info)
    result = res.result or {}
    rows: list[dict[str, Any]] = (result.get("details") or {}).get("unexpected_rows") or []
    if error is not None:
        details = f"could not run: {_explain(error)}"
        count = 0
    else:
        observed = int(result.get("observed_value") or 0)
        count = sum(int(r.get("n") or 1) for r in rows) if rows else observed
        shown = [str(r.get("detail") or r) for r in rows[:MAX_DETAILS]]
        if observed > len(shown):
            shown.append(f"... and {observed - len(shown)} more")
        details = "; ".join(shown) if shown else "ok"
    return {
        "name": name,
        "severity": severity,
        "success": bool(res.success) and error is None,
        "details": details,
        "unexpected_count": count,
    }


def _exception_message(info: Any) -> str | None:
    """GX reports errors either flat or keyed by metric; return the first message."""
    if not info:
        return None
    if "raised_exception" in info:
        return (info.get("exception_message") or "unknown error") if info["raised_exception"] else None
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return value.get("exception_message") or "unknown error"
    return None


_MISSING_RELATION = re.compile(r'relation "([^"]+)" does not exist')


def _explain(message: str) -> str:
    """Turn a driver error into one line; name a missing table plainly."""
    missing = _MISSING_RELATION.search(message)
    if missing:
        return (f"table {missing.group(1)} does not exist "
                "(the dbt models that build it have not run or are not deployed)")
    first = message.strip().splitlines()[0] if message.strip() else message
    return first[:500]
