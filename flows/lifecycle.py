"""The run lifecycle in one place: reconcile stale runs, start the run row (committed),
heartbeat, hold the run's advisory locks, capture the run's messages, and finish the
row in `finally` whatever happens (an exception, a failed gate) — so no run can stay
`running` or keep a lock, and a failed run keeps the messages that tell why.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date

from sqlalchemy.engine import Engine

from flows import run_history
from flows.messages import RunMessages, capture_run_messages
from flows.progress import Progress, ProgressCallback
from flows.summary import BatchSummary
from snapfolio.core.locks import LockSession

log = logging.getLogger(__name__)


@dataclass
class Run:
    """What the phases of a live run share: its id, locks, progress and summary."""

    run_id: str
    locks: LockSession
    progress: Progress
    summary: BatchSummary
    messages: RunMessages | None = None


@contextmanager
def batch_run(engine: Engine, kind: str, scope: dict, as_of: date,
              on_progress: ProgressCallback | None = None) -> Iterator[Run]:
    """Start a run row and hold its lock while the block runs; finish it in `finally`.

    The block's outcome decides the final status: an exception -> `failed` (re-raised),
    a failed data-quality gate -> `failed`, warnings -> `completed_with_warnings`.
    """
    summary = BatchSummary(as_of=as_of, portfolios={}, kind=kind)
    crashed = run_history.reconcile_stale_runs(engine)
    run_id = run_history.start_run(engine, kind, scope, as_of)
    summary.run_id = run_id
    if crashed:
        summary.warnings.append(f"reconciled crashed runs: {', '.join(crashed)}")
    locks = LockSession(engine)
    stack = ExitStack()
    messages = stack.enter_context(capture_run_messages(engine, run_id))
    log.info("run %s started: %s as of %s, scope %s", run_id, kind, as_of,
             json.dumps(scope, default=str))
    progress = Progress(engine, run_id, on_progress, messages=messages, summary=summary)
    run = Run(run_id, locks, progress, summary, messages)
    status, error = "failed", None
    try:
        with run_history.Heartbeat(engine, run_id):
            locks.lock_run(run_id)
            yield run
        status = "completed_with_warnings" if summary.warnings else "completed"
        if summary.checks and summary.checks.get("status") == "failed":
            status = "failed"
            error = "data-quality gate failed: " + "; ".join(summary.checks.get("failed", []))
        if summary.failed_portfolios:
            status = "failed"
            error = "; ".join([f"portfolio {n} failed: {e}"
                               for n, e in sorted(summary.failed_portfolios.items())]
                              + ([error] if error else []))
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}".splitlines()[0][:2000]
        raise
    finally:
        summary.status = status
        summary.error = error
        final_state = f"current through {as_of}" if status != "failed" else "failed"
        summary.portfolio_states.update({n: final_state for n in summary.portfolios})
        if summary.failed_portfolios and status == "failed" and not summary.checks.get("failed"):
            # only the culprits failed; the others are current
            summary.portfolio_states.update({n: f"current through {as_of}"
                                             for n in summary.portfolios})
        summary.portfolio_states.update({n: f"failed: {e}"
                                         for n, e in summary.failed_portfolios.items()})
        try:
            _record_outcome(run, status, error)
            run_history.finish_run(engine, run_id, status, error_summary=error,
                                   stats=summary.as_stats())
        finally:
            try:
                locks.close()
            finally:
                stack.close()


def _record_outcome(run: Run, status: str, error: str | None) -> None:
    """Close the phase timeline and write the run's messages, the outcome last; a
    failure here is logged, never raised over the run's own outcome."""
    summary = run.summary
    failed_phase = ("checks" if (summary.checks or {}).get("status") == "failed"
                    else "dbt" if summary.failed_portfolios else None)
    try:
        run.progress.close(status, failed_phase)
        if error:
            log.error("run %s %s: %s", run.run_id, status, error)
        else:
            log.info("run %s %s in %.1fs", run.run_id, status,
                     time.perf_counter() - run.progress.started)
        if run.messages is not None:
            run.messages.write_pending()
    except Exception:
        log.warning("run %s: could not store its messages", run.run_id, exc_info=True)
