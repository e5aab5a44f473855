"""Run messages: what a run logged, stored with the run (raw.run_messages) so
`snapfolio status` shows them while the run goes and after it ended, and
`status --json` carries them.

`capture_run_messages` installs one logging.Handler on our packages' loggers (the same
ones shipped to Prefect's Logs tab) and on Prefect's run loggers for the duration of a
run. The handler only appends to an in-memory buffer; `RunMessages.write_pending`
writes the buffer with one COPY, called at each phase end and in the run's `finally`
(never a database round trip per log line). Each audience keeps its newest
MESSAGE_CAP messages per run (older ones are dropped in memory and in the table):

- `user`: the run's own story (flows.lifecycle, flows.progress: phases with their
  durations, warnings, notes, the outcome) and our packages' ERROR lines;
- `debug`: every other captured line (the phases' detail), shown by `status --debug`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from flows.log_levels import levels_at_most
from flows.prefect_server import EXTRA_LOGGERS
from snapfolio.core.copy import copy_in
from snapfolio.core.sql import sql_text

MESSAGE_CAP = int(os.environ.get("SNAPFOLIO_RUN_MESSAGE_CAP", "500"))
MAX_MESSAGE_CHARS = 2000
USER_LOGGERS = ("flows.lifecycle", "flows.progress")
PREFECT_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
AUDIENCES = ("user", "debug")
_COPY = ("copy raw.run_messages (run_id, seq, logged_at, phase, level, audience, logger, "
         "message) from stdin (format binary)")
_TYPES = ("text", "int4", "timestamptz", "text", "text", "text", "text", "text")

_current_run: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "snapfolio_run_id", default=None)
_active: list[RunMessages] = []
_install_lock = threading.Lock()


def captured_loggers() -> list[str]:
    return [*EXTRA_LOGGERS.split(","), *PREFECT_RUN_LOGGERS]


def audience_of(record: logging.LogRecord) -> str:
    """`user` for the run's own story and our ERROR lines; Prefect's engine lines (its
    failure lines carry tracebacks) and the phases' detail are `debug`."""
    if record.name.startswith(USER_LOGGERS) or (
            record.levelno >= logging.ERROR and not record.name.startswith("prefect")):
        return "user"
    return "debug"


class RunMessages(logging.Handler):
    """Buffers one run's log records (bounded per audience) until `write_pending`."""

    def __init__(self, engine: Engine, run_id: str, cap: int | None = None) -> None:
        super().__init__(logging.DEBUG)
        self.engine, self.run_id = engine, run_id
        self.cap = max(MESSAGE_CAP if cap is None else cap, 1)
        self.phase = "run"
        self.captured = dict.fromkeys(AUDIENCES, 0)
        self._pending: dict[str, deque] = {a: deque(maxlen=self.cap) for a in AUDIENCES}
        self._seq = 0

    def _belongs(self) -> bool:
        """Records of this run: its context, or a thread without one (a provider's pool
        thread) while this is the only run of the process."""
        current = _current_run.get()
        return current == self.run_id or (current is None and _active == [self])

    def emit(self, record: logging.LogRecord) -> None:
        if not self._belongs():
            return
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not break the run
            message = str(record.msg)
        audience = audience_of(record)
        self._seq += 1
        self.captured[audience] += 1
        self._pending[audience].append((
            self.run_id, self._seq, record.created, self.phase, record.levelname, audience,
            record.name, message[:MAX_MESSAGE_CHARS]))

    def write_pending(self) -> int:
        """Write the buffered messages (one COPY) and trim the table to the cap; returns
        how many were written."""
        with self.lock:
            rows = sorted([*self._pending["user"], *self._pending["debug"]],
                          key=lambda r: r[1])
            rows = [(*r[:2], datetime.fromtimestamp(r[2], UTC), *r[3:]) for r in rows]
            for buffer in self._pending.values():
                buffer.clear()
            captured = dict(self.captured)
        if not rows:
            return 0
        with self.engine.begin() as conn:
            copy_in(conn, _COPY, rows=rows, types=_TYPES)
            for audience, count in captured.items():
                if count > self.cap:
                    conn.execute(sql_text(__file__, "run_messages_trim"),
                                 {"run_id": self.run_id, "audience": audience, "cap": self.cap})
            conn.execute(sql_text(__file__, "run_messages_counts"),
                         {"run_id": self.run_id,
                          "counts": json.dumps({"captured": captured, "cap": self.cap})})
        return len(rows)


@contextmanager
def capture_run_messages(engine: Engine, run_id: str,
                         cap: int | None = None) -> Iterator[RunMessages]:
    """Capture the run's log lines while the block runs (INFO and up at least, whatever
    the loggers' configured level; DEBUG too when the logger is set to DEBUG). The
    caller writes them (`write_pending`) at phase ends and in its `finally`."""
    handler = RunMessages(engine, run_id, cap)
    token = _current_run.set(run_id)
    with levels_at_most(logging.INFO, captured_loggers()):
        with _install_lock:
            _active.append(handler)
            for name in captured_loggers():
                logging.getLogger(name).addHandler(handler)
        try:
            yield handler
        finally:
            with _install_lock:
                for name in captured_loggers():
                    logging.getLogger(name).removeHandler(handler)
                _active.remove(handler)
            _current_run.reset(token)


def run_messages(engine: Engine, run_id: str) -> list[dict]:
    """The stored messages of a run, oldest first (`status --json`'s `messages`)."""
    with engine.connect() as conn:
        rows = conn.execute(sql_text(__file__, "run_messages"), {"run_id": run_id}).mappings()
        return [{"timestamp": r["logged_at"].isoformat(), "phase": r["phase"],
                 "level": r["level"], "audience": r["audience"], "logger": r["logger"],
                 "message": r["message"]} for r in rows]
