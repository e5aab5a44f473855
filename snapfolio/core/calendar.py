"""NYSE trading calendar (exchange_calendars "XNYS") as plain `datetime.date` values.

Every part of snapfolio agrees on what a session is through this module: gap
detection, price scoping, return windows and the providers. Building an
exchange_calendars calendar takes ~0.5 s, so it is built once per process over a
fixed wide range and reduced to two sorted numpy arrays (session days and close
instants), which makes every query a binary search.
"""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

CALENDAR_NAME = "XNYS"
CALENDAR_START = date(1990, 1, 1)  # positions back to 1990-01-02 (DESIGN "Input limits")
# option expirations up to 10 years after today, plus margin for their settlement session
CALENDAR_END = date(date.today().year + 11, 12, 31)
NEW_YORK = ZoneInfo("America/New_York")

_DAY = "datetime64[D]"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray]:
    """(sessions as datetime64[D], closes as int64 ns since epoch UTC), built once."""
    import exchange_calendars as xcals

    with warnings.catch_warnings():
        # exchange_calendars trips pandas deprecation warnings on every build; not ours to fix
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        cal = xcals.get_calendar(
            CALENDAR_NAME, start=CALENDAR_START.isoformat(), end=CALENDAR_END.isoformat()
        )
    closes = cal.closes  # indexed by session, UTC close instants (early closes included)
    days = closes.index.values.astype(_DAY)
    close_ns = closes.dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
    days.flags.writeable = False
    close_ns.flags.writeable = False
    return days, close_ns


def _d64(d: date) -> np.datetime64:
    if isinstance(d, datetime):  # a datetime is a date subclass: keep only its day
        d = d.date()
    if not (CALENDAR_START <= d <= CALENDAR_END):
        raise ValueError(
            f"date {d.isoformat()} is outside the supported NYSE calendar range "
            f"{CALENDAR_START.isoformat()}..{CALENDAR_END.isoformat()}"
        )
    return np.datetime64(d, "D")


def _to_date(x: np.datetime64) -> date:
    return x.astype(object)


def _at(i: int, what: str) -> date:
    days, _ = _tables()
    if i < 0 or i >= len(days):
        raise ValueError(f"{what} falls outside the supported NYSE calendar range")
    return _to_date(days[i])


def sessions_array(start: date, end: date) -> np.ndarray:
    """NYSE sessions in [start, end] (inclusive) as a read-only datetime64[D] array."""
    days, _ = _tables()
    lo = np.searchsorted(days, _d64(start), side="left")
    hi = np.searchsorted(days, _d64(end), side="right")
    return days[lo:hi]


def sessions_between(start: date, end: date) -> list[date]:
    """NYSE sessions in [start, end] (inclusive), ascending; empty when start > end."""
    return sessions_array(start, end).astype(object).tolist()


def is_session(d: date) -> bool:
    """True when `d` is an NYSE trading day (full or early close)."""
    days, _ = _tables()
    x = _d64(d)
    i = np.searchsorted(days, x)
    return bool(i < len(days) and days[i] == x)


def previous_session(d: date) -> date:
    """The session strictly before `d` (`d` need not be a session)."""
    days, _ = _tables()
    return _at(int(np.searchsorted(days, _d64(d), side="left")) - 1, f"session before {d}")


def next_session(d: date) -> date:
    """The session strictly after `d` (`d` need not be a session)."""
    days, _ = _tables()
    return _at(int(np.searchsorted(days, _d64(d), side="right")), f"session after {d}")


def first_session_on_or_after(d: date) -> date:
    """`d` itself when it is a session, else the next session."""
    days, _ = _tables()
    return _at(int(np.searchsorted(days, _d64(d), side="left")), f"session on/after {d}")


def last_session_on_or_before(d: date) -> date:
    """`d` itself when it is a session, else the previous session."""
    days, _ = _tables()
    return _at(int(np.searchsorted(days, _d64(d), side="right")) - 1, f"session on/before {d}")


def sessions_back(d: date, n: int) -> date:
    """The session `n` sessions before e = last_session_on_or_before(d).

    `sessions_back(d, 0) == e`. So an N-session window ending at d (d included when it
    is a session) is [sessions_back(d, N - 1), e], and the N daily returns of that window
    need prices from sessions_back(d, N) on (each return needs the previous session).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    days, _ = _tables()
    end_i = int(np.searchsorted(days, _d64(d), side="right")) - 1
    return _at(end_i - n, f"{n} sessions before {d}")


def sessions_back_clipped(d: date, n: int) -> date:
    """`sessions_back`, but never before the calendar's first session: a lookback
    window reaching before 1990 simply starts there (no data exists before it)."""
    days, _ = _tables()
    end_i = int(np.searchsorted(days, _d64(d), side="right")) - 1
    return _to_date(days[max(end_i - n, 0)])


def session_close(d: date) -> datetime:
    """Close instant (tz-aware UTC) of session `d`, honouring early closes."""
    days, close_ns = _tables()
    x = _d64(d)
    i = int(np.searchsorted(days, x))
    if i >= len(days) or days[i] != x:
        raise ValueError(f"{d.isoformat()} is not an NYSE session")
    return datetime.fromtimestamp(int(close_ns[i]) / 1e9, tz=UTC)


def last_completed_session(now: datetime | None = None) -> date:
    """Latest session whose close (16:00 New York, or the early close) is <= `now`.

    `now` defaults to the current time; a naive `now` is read as New York wall-clock
    time (the exchange's clock), an aware one is converted.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=NEW_YORK)
    _, close_ns = _tables()
    now_ns = (now - _EPOCH) // timedelta(microseconds=1) * 1_000
    i = int(np.searchsorted(close_ns, now_ns, side="right")) - 1
    return _at(i, f"last completed session at {now.isoformat()}")
