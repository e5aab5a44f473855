"""One guarded HTTP GET for the keyed providers: budget, error classes, retries, stats.

Every request first takes a slot from the provider's RequestBudget, then its answer is
classified:
- 2xx and other 4xx (404 "no such ticker", 400, 402 "not in your plan for this symbol")
  are returned: what they mean for a symbol is the provider's call;
- 401/403 raise ProviderAuthError (bad key or plan): never retried;
- 429, 5xx, timeouts and connection errors are transient: retried with tenacity's
  jittered exponential backoff, a 429's `Retry-After` honoured (the wait is never
  shorter), bounded by attempts *and* total seconds on the injected clock; then a
  ProviderError naming the symbols. Waits for the budget do not count against that
  bound (they are pacing, not failure).
`send` is whatever does the I/O (an httpx client, yahooquery's curl session), so tests
replay recorded answers through httpx.MockTransport with a fake clock and sleep.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from ingest.providers.base import ProviderAuthError, ProviderError
from ingest.providers.ratelimit import Clock, RequestBudget, Sleep
from ingest.providers.stats import ProviderStats

log = logging.getLogger(__name__)

Send = Callable[[str, Mapping[str, Any] | None], Any]  # (url, params) -> response-like
StatusOf = Callable[[Any], int]  # response -> effective status (FMP puts errors in 200s)


class TransientHTTPError(RuntimeError):
    """A retryable answer or transport failure; `retry_after` in seconds when the server said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@lru_cache(maxsize=1)
def _transport_errors() -> tuple[type[BaseException], ...]:
    import httpx

    types: list[type[BaseException]] = [httpx.TransportError, TimeoutError, ConnectionError]
    try:
        import requests.exceptions as rq

        types += [rq.ConnectionError, rq.Timeout, rq.ChunkedEncodingError]
    except ImportError:  # pragma: no cover
        pass
    try:
        import curl_cffi.requests.exceptions as cc

        types += [cc.ConnectionError, cc.Timeout, cc.ChunkedEncodingError]
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After: 30` or an HTTP date -> seconds to wait (>= 0); None when absent/garbled."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def body_snippet(response: Any, limit: int = 200) -> str:
    try:
        text = str(response.text)
    except Exception:  # noqa: BLE001 - a body we cannot read is still an answer
        return ""
    return " ".join(text.split())[:limit]


class _WaitRetryAfter(wait_base):
    """Jittered exponential backoff, but never shorter than the server's Retry-After."""

    def __init__(self, backoff: wait_base) -> None:
        self.backoff = backoff

    def __call__(self, retry_state: RetryCallState) -> float:
        base = self.backoff(retry_state)
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        after = getattr(exc, "retry_after", None)
        return max(base, after) if after is not None else base


class _StopAfterSeconds(stop_base):
    """Stop when the next sleep would end past the bound.

    Measured on the injected clock, less the time spent waiting for the request budget:
    those waits are planned pacing, not a sign the provider is down, and a tight budget
    (5 a minute) would otherwise eat the whole bound before the first retry.
    """

    def __init__(self, clock: Clock, bound: float, paced: list[float]) -> None:
        self.clock, self.started, self.bound, self.paced = clock, clock(), bound, paced

    def __call__(self, retry_state: RetryCallState) -> bool:
        spent = self.clock() - self.started - self.paced[0]
        return spent + retry_state.upcoming_sleep > self.bound


class HttpCaller:
    """GETs for one provider; see the module docstring for the classification."""

    def __init__(
        self,
        name: str,
        send: Send,
        stats: ProviderStats,
        *,
        budget: RequestBudget | None = None,
        max_attempts: int = 5,
        max_total_seconds: float = 120.0,
        backoff: wait_base | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        status_of: StatusOf | None = None,
    ) -> None:
        if max_attempts < 1 or max_total_seconds <= 0:
            raise ValueError(f"{name}: max_attempts must be >= 1 and max_total_seconds > 0")
        self.name, self.send, self.stats, self.budget = name, send, stats, budget
        self.max_attempts, self.max_total_seconds = max_attempts, max_total_seconds
        self.backoff = backoff or wait_random_exponential(multiplier=1, max=30)
        self.clock, self.sleep = clock, sleep
        self.status_of = status_of or (lambda r: int(r.status_code))

    def get(self, url: str, params: Mapping[str, Any] | None = None, *, symbols: list[str],
            auth_fatal: bool = True) -> Any:
        """The response of a GET that was not transient (after retries) nor an auth error."""
        attempts = 0
        paced = [0.0]  # seconds this call waited for the budget

        def note_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            self.stats.retries += 1
            if getattr(exc, "retry_after", None) is not None:
                self.stats.throttled(state.upcoming_sleep)
            log.warning("%s request for %d symbol(s) failed (%s); retry %d in %.1f s",
                        self.name, len(symbols), exc, state.attempt_number, state.upcoming_sleep)

        retrying = Retrying(
            retry=retry_if_exception_type(TransientHTTPError),
            stop=stop_after_attempt(self.max_attempts)
            | _StopAfterSeconds(self.clock, self.max_total_seconds, paced),
            wait=_WaitRetryAfter(self.backoff),
            sleep=self.sleep,
            before_sleep=note_retry,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    response = self._once(url, params, symbols, auth_fatal, paced)
        except TransientHTTPError as exc:
            raise ProviderError(self.name, symbols,
                                f"gave up after {attempts} attempt(s): {exc}") from exc
        return response

    def _once(self, url: str, params: Mapping[str, Any] | None, symbols: list[str],
              auth_fatal: bool, paced: list[float]) -> Any:
        if self.budget is not None:
            waited = self.budget.acquire()
            paced[0] += waited
            self.stats.throttled(waited)
        self.stats.requests += 1
        try:
            response = self.send(url, params)
        except _transport_errors() as exc:
            raise TransientHTTPError(f"{type(exc).__name__}: {exc}") from exc
        status = self.status_of(response)
        if status == 429:
            self.stats.rate_limited += 1
            headers = getattr(response, "headers", None) or {}
            raise TransientHTTPError(f"HTTP 429 {body_snippet(response, 120)}".rstrip(),
                                     retry_after_seconds(headers.get("Retry-After")))
        if 500 <= status < 600:
            raise TransientHTTPError(f"HTTP {status} {body_snippet(response, 120)}".rstrip())
        if status in (401, 403) and auth_fatal:
            raise ProviderAuthError(self.name, symbols,
                                    f"HTTP {status} {body_snippet(response)}".rstrip())
        return response


class RunGuard:
    """Skips a provider for the rest of the run after an auth/plan error, warning once.

    Wrap every provider call in `with guard.call(symbols):`. A later call while skipped
    raises ProviderError at once, without a request and without another warning.
    """

    def __init__(self, name: str, stats: ProviderStats) -> None:
        self.name, self.stats = name, stats

    def call(self, symbols: list[str]) -> _Guarded:
        if self.stats.skipped:
            raise ProviderError(self.name, symbols, f"skipped for this run: {self.stats.skipped}")
        return _Guarded(self, symbols)


class _Guarded:
    def __init__(self, guard: RunGuard, symbols: list[str]) -> None:
        self.guard, self.symbols = guard, symbols

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> bool:
        g = self.guard
        if isinstance(exc, ProviderAuthError):
            g.stats.failures += 1
            g.stats.skipped = exc.reason
            log.warning("price provider %s is skipped for the rest of this run: %s "
                        "(check its API key and plan)", g.name, exc.reason)
            raise ProviderError(g.name, self.symbols,
                                f"skipped for this run: {exc.reason}") from exc
        if isinstance(exc, ProviderError):
            g.stats.failures += 1
        return False


def each_until_down(
    symbols: list[str],
    one: Callable[[str], tuple[Any, str | None]],
    frames: list[Any],
    reasons: dict[str, str],
    *,
    served_before: int = 0,
) -> dict[str, str]:
    """Ask `one(symbol) -> (rows, why_none)` for each symbol until the provider gives up.

    Rows go to `frames`, no-data reasons to `reasons`. A ProviderError after retries
    (not an auth error: that propagates) stops the loop, since the provider is down or
    throttled for longer than its bound and every further symbol would wait as long;
    the symbols not yet answered are returned as {symbol: reason} ("failed"). If
    nothing at all was answered the error propagates: the call failed wholesale.
    """
    for i, s in enumerate(symbols):
        try:
            rows, why = one(s)
        except ProviderAuthError:
            raise
        except ProviderError as exc:
            if i == 0 and served_before == 0:  # nothing answered: the whole call failed
                raise ProviderError(exc.provider, symbols, exc.reason) from exc
            return {t: exc.reason for t in symbols[i:]}
        if why is not None:
            reasons[s] = why
        elif rows is not None and len(rows):
            frames.append(rows)
    return {}
