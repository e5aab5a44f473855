"""raw.batch_runs: written and committed synchronously, heartbeat while running, finished
in `finally`; a `running` row whose process is gone is reconciled to `crashed`.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from datetime import date, datetime
from typing import Any, Self

import psutil
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flows.dbt_runner import drop_dead_build_scopes
from snapfolio.core.locks import run_is_alive

HEARTBEAT_SECONDS = float(os.environ.get("SNAPFOLIO_HEARTBEAT_SECONDS", "5"))
STALE_AFTER_SECONDS = float(os.environ.get("SNAPFOLIO_STALE_HEARTBEAT_SECONDS", "30"))
FINAL_STATES = ("completed", "completed_with_warnings", "failed", "crashed")


def _json(value: Any) -> str:
    return json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, date | datetime) else str(v))


def start_run(engine: Engine, kind: str, scope: dict, as_of: date | None) -> str:
    run_id = uuid.uuid4().hex[:12]
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into raw.batch_runs (run_id, kind, scope, as_of, status, phase, pid, hostname) "
                "values (:r, :k, cast(:s as jsonb), :a, 'running', 'starting', :pid, :host)"
            ),
            {"r": run_id, "k": kind, "s": _json(scope), "a": as_of, "pid": os.getpid(),
             "host": socket.gethostname()},
        )
    return run_id


def update_run(engine: Engine, run_id: str, *, phase: str | None = None,
               progress: dict | None = None, stats: dict | None = None,
               as_of: date | None = None) -> None:
    """Record phase/progress/stats now (committed), so `status` sees it at once."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "update raw.batch_runs set heartbeat_at = clock_timestamp(), "
                "phase = coalesce(:phase, phase), as_of = coalesce(:as_of, as_of), "
                "progress = coalesce(cast(:progress as jsonb), progress), "
                "stats = stats || coalesce(cast(:stats as jsonb), '{}'::jsonb) where run_id = :r"
            ),
            {"r": run_id, "phase": phase, "as_of": as_of,
             "progress": _json(progress) if progress is not None else None,
             "stats": _json(stats) if stats is not None else None},
        )


def finish_run(engine: Engine, run_id: str, status: str, *, error_summary: str | None = None,
               stats: dict | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "update raw.batch_runs set status = :s, finished_at = clock_timestamp(), "
                "heartbeat_at = clock_timestamp(), phase = 'finished', error_summary = :e, "
                "stats = stats || coalesce(cast(:stats as jsonb), '{}'::jsonb) where run_id = :r"
            ),
            {"r": run_id, "s": status, "e": error_summary,
             "stats": _json(stats) if stats is not None else None},
        )


def reconcile_stale_runs(engine: Engine) -> list[str]:
    """Mark `running` rows whose process is gone as `crashed`; returns their ids.

    Gone = the run's advisory lock is free (its connection died) and either the
    heartbeat is stale or the pid no longer exists on this host. The build-scope rows
    such a process left mid-build go too.
    """
    host = socket.gethostname()
    crashed = []
    with engine.begin() as conn:
        drop_dead_build_scopes(conn, psutil.pid_exists)
        rows = conn.execute(sa.text(
            "select run_id, pid, hostname, extract(epoch from clock_timestamp() - heartbeat_at) as age "
            "from raw.batch_runs where status = 'running' for update skip locked")).all()
        for row in rows:
            if run_is_alive(conn, row.run_id):
                continue
            pid_gone = row.hostname == host and (row.pid is None or not psutil.pid_exists(row.pid))
            if pid_gone or row.age > STALE_AFTER_SECONDS:
                crashed.append(row.run_id)
        if crashed:
            conn.execute(
                sa.text("update raw.batch_runs set status = 'crashed', finished_at = clock_timestamp(), "
                        "error_summary = coalesce(error_summary, 'process died while running "
                        "(phase ' || coalesce(phase, '?') || '); reconciled') "
                        "where run_id = any(:ids)"),
                {"ids": crashed},
            )
    return crashed


class Heartbeat:
    """Background thread that keeps heartbeat_at fresh while the run's process lives."""

    def __init__(self, engine: Engine, run_id: str, interval: float = HEARTBEAT_SECONDS) -> None:
        self._engine, self._run_id, self._interval = engine, run_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                with self._engine.begin() as conn:
                    conn.execute(sa.text("update raw.batch_runs set heartbeat_at = clock_timestamp() "
                                         "where run_id = :r and status = 'running'"), {"r": self._run_id})
            except sa.exc.SQLAlchemyError:
                continue  # a missed beat is harmless; the next one retries


def run_status(engine: Engine, run_id: str | None) -> dict | None:
    """The `status --json` object for a run (latest when run_id is None); None if unknown."""
    with engine.connect() as conn:
        query = ("select *, extract(epoch from coalesce(finished_at, clock_timestamp()) - started_at) "
                 "as elapsed_s from raw.batch_runs ")
        row = conn.execute(
            sa.text(query + ("where run_id = :r" if run_id else "order by started_at desc limit 1")),
            {"r": run_id},
        ).mappings().first()
    if row is None:
        return None
    progress = row["progress"] or {}
    elapsed = float(row["elapsed_s"])
    eta = None
    done, total = progress.get("done"), progress.get("total")
    if row["status"] == "running" and done and total and done < total:
        eta = round(elapsed / done * (total - done), 1)
    elif row["status"] != "running":
        eta = 0.0
    return {
        "run_id": row["run_id"], "kind": row["kind"], "scope": row["scope"], "status": row["status"],
        "phase": row["phase"], "progress": progress,
        "started_at": row["started_at"].isoformat(),
        "finished_at": row["finished_at"].isoformat() if row["finished_at"] else None,
        "elapsed_s": round(elapsed, 3), "eta_s": eta, "error_summary": row["error_summary"],
        "stats": row["stats"],
    }
