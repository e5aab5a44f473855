"""NYSE calendar: holidays, early closes and the "last completed session" cut-off."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from snapfolio.core import calendar as cal

NY = ZoneInfo("America/New_York")


def test_known_closures_are_not_sessions() -> None:
    assert not cal.is_session(date(2025, 1, 9))  # national day of mourning, President Carter
    assert not cal.is_session(date(2025, 7, 4))
    assert not cal.is_session(date(2025, 12, 25))
    assert not cal.is_session(date(2025, 1, 11))  # Saturday
    assert cal.is_session(date(2025, 7, 3))  # early close is still a session
    assert cal.sessions_between(date(2025, 1, 6), date(2025, 1, 10)) == [
        date(2025, 1, 6), date(2025, 1, 7), date(2025, 1, 8), date(2025, 1, 10)]


def test_sessions_between_inclusive_and_empty() -> None:
    assert cal.sessions_between(date(2025, 1, 10), date(2025, 1, 10)) == [date(2025, 1, 10)]
    assert cal.sessions_between(date(2025, 1, 11), date(2025, 1, 12)) == []
    assert cal.sessions_between(date(2025, 2, 1), date(2025, 1, 1)) == []
    assert len(cal.sessions_between(date(2024, 1, 1), date(2024, 12, 31))) == 252


def test_sessions_array_matches_list() -> None:
    arr = cal.sessions_array(date(2025, 6, 1), date(2025, 7, 31))
    assert arr.dtype == np.dtype("datetime64[D]")
    assert arr.astype(object).tolist() == cal.sessions_between(date(2025, 6, 1), date(2025, 7, 31))
    assert np.datetime64("2025-07-04") not in arr


def test_neighbours() -> None:
    assert cal.previous_session(date(2025, 1, 10)) == date(2025, 1, 8)
    assert cal.previous_session(date(2025, 1, 9)) == date(2025, 1, 8)
    assert cal.previous_session(date(2025, 7, 7)) == date(2025, 7, 3)
    assert cal.first_session_on_or_after(date(2025, 1, 9)) == date(2025, 1, 10)
    assert cal.first_session_on_or_after(date(2025, 1, 10)) == date(2025, 1, 10)
    assert cal.next_session(date(2025, 1, 8)) == date(2025, 1, 10)
    assert cal.last_session_on_or_before(date(2025, 1, 12)) == date(2025, 1, 10)


def test_sessions_back_window_semantics() -> None:
    assert cal.sessions_back(date(2025, 1, 10), 0) == date(2025, 1, 10)
    assert cal.sessions_back(date(2025, 1, 12), 0) == date(2025, 1, 10)  # Sunday -> Friday
    assert cal.sessions_back(date(2025, 1, 10), 3) == date(2025, 1, 6)
    # a 90-session window ending on d has exactly 90 sessions
    d = date(2025, 6, 30)
    assert len(cal.sessions_between(cal.sessions_back(d, 89), d)) == 90
    with pytest.raises(ValueError):
        cal.sessions_back(d, -1)


def test_last_completed_session_cutoff_regular_and_early_close() -> None:
    f = cal.last_completed_session
    assert f(datetime(2025, 1, 10, 15, 59, tzinfo=NY)) == date(2025, 1, 8)
    assert f(datetime(2025, 1, 10, 16, 0, tzinfo=NY)) == date(2025, 1, 10)
    assert f(datetime(2025, 1, 10, 21, 0, tzinfo=UTC)) == date(2025, 1, 10)  # 16:00 EST
    assert f(datetime(2025, 1, 11, 10, 0, tzinfo=NY)) == date(2025, 1, 10)  # weekend
    # 2025-07-03 closed at 13:00
    assert f(datetime(2025, 7, 3, 12, 59, tzinfo=NY)) == date(2025, 7, 2)
    assert f(datetime(2025, 7, 3, 13, 0, tzinfo=NY)) == date(2025, 7, 3)
    assert f(datetime(2025, 7, 4, 18, 0, tzinfo=NY)) == date(2025, 7, 3)
    # summer time: 16:00 EDT is 20:00 UTC; naive datetimes are New York wall-clock time
    assert f(datetime(2025, 6, 2, 19, 59, tzinfo=UTC)) == date(2025, 5, 30)
    assert f(datetime(2025, 6, 2, 20, 0, tzinfo=UTC)) == date(2025, 6, 2)
    assert f(datetime(2025, 6, 2, 16, 0)) == date(2025, 6, 2)
    assert cal.is_session(f())


def test_early_close_time() -> None:
    assert cal.session_close(date(2025, 11, 28)) == datetime(2025, 11, 28, 18, 0, tzinfo=UTC)
    assert cal.session_close(date(2025, 11, 26)) == datetime(2025, 11, 26, 21, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        cal.session_close(date(2025, 11, 27))


def test_out_of_range_is_a_clear_error() -> None:
    # the calendar starts in 1990 (issue #16: positions back to 1990-01-02)
    with pytest.raises(ValueError, match="outside the supported NYSE calendar"):
        cal.sessions_between(date(1989, 12, 1), date(1990, 2, 1))
    assert cal.sessions_between(date(1990, 1, 1), date(1990, 1, 3)) == [date(1990, 1, 2),
                                                                         date(1990, 1, 3)]
