"""Request budgets on a fake clock, Retry-After parsing and the budget settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.providers.http import retry_after_seconds
from ingest.providers.ratelimit import RequestBudget, budget_for, requests_per_minute
from tests.provider_cassettes import FakeClock


def _max_in_any_window(times: list[float], window: float) -> int:
    return max(sum(1 for u in times if t <= u < t + window) for t in times)


def test_twelve_requests_at_five_per_minute_take_two_windows_and_never_exceed_it() -> None:
    clock = FakeClock()
    budget = RequestBudget(5, 60, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(12):
        budget.acquire()
        times.append(clock())
    assert times[-1] - times[0] >= 120
    assert _max_in_any_window(times, 60) == 5
    assert times == [0.0] * 5 + [60.0] * 5 + [120.0] * 2  # no waiting longer than needed


def test_an_idle_budget_lets_a_burst_through_and_reports_waits() -> None:
    clock = FakeClock()
    budget = RequestBudget(3, 10, clock=clock, sleep=clock.sleep)
    assert [budget.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now = 4.0
    assert budget.acquire() == pytest.approx(6.0)  # until the first slot frees at t = 10
    clock.now = 100.0
    assert [budget.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]


def test_budget_settings() -> None:
    assert requests_per_minute("polygon", {}) == 5
    assert requests_per_minute("fmp", {}) == 300
    assert requests_per_minute("yahooquery", {}) == 60
    assert requests_per_minute("polygon", {"SNAPFOLIO_POLYGON_REQUESTS_PER_MINUTE": " 100 "}) == 100
    assert budget_for("yfinance", environ={}) is None  # no default budget
    assert budget_for("polygon", 0) is None
    with pytest.raises(ValueError, match="SNAPFOLIO_FMP_REQUESTS_PER_MINUTE must be >= 0"):
        requests_per_minute("fmp", {"SNAPFOLIO_FMP_REQUESTS_PER_MINUTE": "-1"})
    with pytest.raises(ValueError, match="requests >= 1"):
        RequestBudget(0)


def test_retry_after_header_values() -> None:
    now = datetime(2025, 1, 10, 15, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("30") == 30.0
    assert retry_after_seconds(" 1.5 ") == 1.5
    assert retry_after_seconds("Fri, 10 Jan 2025 15:00:45 GMT", now) == 45.0
    assert retry_after_seconds("Fri, 10 Jan 2025 14:00:00 GMT", now) == 0.0  # in the past
    assert retry_after_seconds("-5") == 0.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
