"""What `snapfolio status` shows of a run: the run row (DESIGN's `status --json`
keys), every phase with its state and duration, and the messages stored with the run.

A run is named by id (default: the latest) or found as the latest run that touched a
portfolio (`--portfolio NAME`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from flows.messages import run_messages
from flows.progress import PHASES
from flows.run_history import run_status
from snapfolio.core.sql import sql_text


def latest_run_for_portfolio(engine: Engine, name: str) -> str | None:
    """The id of the latest run that processed or onboarded `name` (None: no run yet)."""
    with engine.connect() as conn:
        return conn.execute(sql_text(__file__, "latest_run_for_portfolio"),
                            {"name": name}).scalar()


def status_view(engine: Engine, run_id: str | None) -> dict | None:
    """`run_status`'s object plus `phases` (every phase, state, duration) and `messages`
    (every stored message, oldest first); None for an unknown run."""
    found = run_status(engine, run_id)
    if found is None:
        return None
    return {**found, "phases": phase_rows(found), "messages": run_messages(engine,
                                                                           found["run_id"])}


def phase_rows(found: dict) -> list[dict]:
    """Every phase of the run in order: `completed`, `failed`, `running` (its duration
    so far), `pending` (not reached yet), `not run` (the run ended before it) or
    `crashed` (running when its process died). `onboard` only for onboarding runs."""
    status = found["status"]
    timeline = (found["progress"] or {}).get("phases")
    if timeline is None:  # a run recorded before the timeline: its phase timings
        timings = (found["stats"] or {}).get("timings") or {}
        return [{"phase": name, "state": "completed" if status != "running" else "?",
                 "duration_s": seconds, "step": None} for name, seconds in timings.items()]
    seen: dict[str, dict] = {}
    for entry in timeline:
        row = seen.setdefault(entry["phase"], {**entry, "duration_s": 0.0})
        row.update(state=entry["state"], step=entry.get("step"))
        row["duration_s"] = round(row["duration_s"] + _duration(entry, status), 3)
    rows = []
    for name in PHASES:
        if name in seen:
            row = seen[name]
            if row["state"] == "running" and status != "running":
                row["state"] = "crashed" if status == "crashed" else "failed"
            rows.append(row)
        elif name != "onboard" or found["kind"] == "onboarding":
            rows.append({"phase": name, "state": "pending" if status == "running" else "not run",
                         "started_at": None, "duration_s": None, "step": None})
    return rows


def _duration(entry: dict, status: str) -> float:
    if entry.get("duration_s") is not None:
        return float(entry["duration_s"])
    if status != "running" or not entry.get("started_at"):
        return 0.0
    started = datetime.fromisoformat(entry["started_at"])
    return max((datetime.now(UTC) - started).total_seconds(), 0.0)
