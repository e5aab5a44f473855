"""Fault injection for the crash-safety tests: SNAPFOLIO_FAULT="kill:dbt" (SIGKILL this
process there; for `dbt`, one second into the build) or "fail:factors" (raise there).

Inert unless the variable is set; points: prices, factors, dbt, chunk:N (after chunk N
is committed), checks.
"""

from __future__ import annotations

import os
import signal
import threading


class InjectedFault(RuntimeError):
    """Raised at a `fail:` fault point."""


def _actions(point: str) -> set[str]:
    spec = os.environ.get("SNAPFOLIO_FAULT", "")
    return {a for a, _, p in (item.partition(":") for item in spec.split(",")) if p == point}


def fault_point(point: str, *, delay_s: float = 0.0) -> None:
    actions = _actions(point)
    if "fail" in actions:
        raise InjectedFault(f"injected failure at {point}")
    if "kill" in actions:
        if delay_s:
            threading.Timer(delay_s, os.kill, (os.getpid(), signal.SIGKILL)).start()
        else:
            os.kill(os.getpid(), signal.SIGKILL)
