"""Per-provider request budgets: at most N requests in any window of W seconds.

A sliding-window log rather than a token bucket: a bucket of capacity N refilled at
N/W lets almost 2N requests into one window (a full bucket plus the refill), and
Polygon's free tier counts requests per rolling minute, so a burst after an idle
minute is fine but a 6th request inside any 60 s is a 429. The clock and the sleep
are injectable so tests run a fake minute instantly.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

Clock = Callable[[], float]
Sleep = Callable[[float], None]

ENV_TEMPLATE = "SNAPFOLIO_{name}_REQUESTS_PER_MINUTE"
# requests per minute when the env var is unset; 0 = no budget
DEFAULT_REQUESTS_PER_MINUTE = {"yahooquery": 60, "polygon": 5, "fmp": 300}


class RequestBudget:
    """Blocks (through `sleep`) until one more request fits in the rolling window."""

    def __init__(self, requests: int, per_seconds: float = 60.0, *,
                 clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        if requests < 1 or per_seconds <= 0:
            raise ValueError(f"a request budget needs requests >= 1 and a positive window, "
                             f"got {requests} per {per_seconds} s")
        self.requests = int(requests)
        self.per_seconds = float(per_seconds)
        self.clock, self.sleep = clock, sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one request slot; returns the seconds waited for it (0.0 when free)."""
        waited = 0.0
        with self._lock:
            while True:
                now = self.clock()
                while self._sent and self._sent[0] <= now - self.per_seconds:
                    self._sent.popleft()
                if len(self._sent) < self.requests:
                    self._sent.append(now)
                    return waited
                delay = self._sent[0] + self.per_seconds - now
                self.sleep(delay)
                waited += delay

    def __repr__(self) -> str:
        return f"RequestBudget({self.requests} per {self.per_seconds:g} s)"


def requests_per_minute(name: str, environ: Mapping[str, str] | None = None) -> int:
    """The provider's budget from SNAPFOLIO_<NAME>_REQUESTS_PER_MINUTE, else its default."""
    environ = os.environ if environ is None else environ
    var = ENV_TEMPLATE.format(name=name.upper())
    text = environ.get(var, "").strip()
    if not text:
        return DEFAULT_REQUESTS_PER_MINUTE.get(name, 0)
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{var} must be a whole number of requests per minute "
                         f"(0 = unlimited), got {text!r}") from None
    if value < 0:
        raise ValueError(f"{var} must be >= 0, got {value}")
    return value


def budget_for(name: str, per_minute: int | None = None, *, environ: Mapping[str, str] | None = None,
               clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> RequestBudget | None:
    """A provider's budget (explicit value, else env, else default); None when unlimited."""
    n = requests_per_minute(name, environ) if per_minute is None else per_minute
    return RequestBudget(n, 60.0, clock=clock, sleep=sleep) if n > 0 else None
