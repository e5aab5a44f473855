"""Flow-run heartbeats that do not hold up the end of a run.

Prefect 3.8 emits a heartbeat event per flow run (PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
default 180 s: what zombie-run detection reads) from a daemon thread that sleeps in
1-second steps, and the sync engine joins that thread when the run's context exits
(twice per run), so every flow run waited up to a second for the thread's next wake-up:
walls measured 1.10 s for 0.3 s of work, 2.09 s for 1.3 s, 5.10 s for 4.0 s. The async
engine already leaves the thread to stop on its own (`join_on_exit=False`); this makes
the sync engine do the same. The thread is told to stop, checks the run's state before
each beat and is a daemon, so nothing changes but the wait: heartbeats are still sent
while the run lives (tests/test_run_overhead.py checks that both hold).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from prefect import flow_engine

_ORIGINAL = getattr(flow_engine, "_send_heartbeats", None)


def _send_heartbeats_without_join(engine: Any, join_on_exit: bool = True
                                  ) -> AbstractContextManager[None]:
    assert _ORIGINAL is not None
    return _ORIGINAL(engine, join_on_exit=False)


def install() -> bool:
    """Use `_send_heartbeats_without_join` in Prefect's flow engine (idempotent); False
    when this Prefect has no such hook (then runs keep its own behaviour)."""
    if _ORIGINAL is None:
        return False
    flow_engine._send_heartbeats = _send_heartbeats_without_join  # type: ignore[attr-defined]
    return True


def installed() -> bool:
    return getattr(flow_engine, "_send_heartbeats", None) is _send_heartbeats_without_join

