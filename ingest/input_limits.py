"""DESIGN "Input limits": the bounds every user-given value is checked against before
anything is written, shared by the CSV parsers, the CLI and the flow.

Each bound is chosen so that a value that passes also fits its column in the raw schema
(0001_raw_schema: quantity numeric(24,6), prices and equity numeric(20,6), closes double
precision), so a bad value is an input error with a line and column, never an insert
failure halfway through a run. Numbers and dates are ASCII only (a full-width digit is
not a digit here), and symbols are checked before any case folding (``ſ`` upper-cases
to ``S``).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from snapfolio.core import calendar

__all__ = [
    "EARLIEST_DATE",
    "EXPIRATION_YEARS",
    "ISO_DATE_RE",
    "MAX_EQUITY",
    "MAX_NAME_LEN",
    "MAX_PRICE",
    "MAX_QUANTITY",
    "MAX_SYMBOL_LEN",
    "PLAIN_NUMBER_RE",
    "SYMBOL_RE",
    "InputError",
    "last_allowed_date",
    "latest_expiration",
    "parse_decimal",
    "parse_iso_date",
    "parse_symbol",
    "shown",
    "validate_as_of",
    "validate_equity",
    "validate_portfolio_name",
]

EARLIEST_DATE = date(1990, 1, 2)  # the supported calendar's first session (DESIGN)
EXPIRATION_YEARS = 10  # option expirations up to this many years after the last session
MAX_QUANTITY = Decimal("1e12")  # |q| < 1e12 (numeric(24,6) holds 18 integer digits)
MAX_PRICE = Decimal("1e9")  # numeric(20,6) holds 14 integer digits
MAX_EQUITY = Decimal("1e12")
MAX_EQUITY_DP = 6  # the scale of raw.portfolios.initial_equity
MAX_NAME_LEN = 100
MAX_SYMBOL_LEN = 32
SYMBOL_CHARS = "A-Z 0-9 . - _ ^ / ="  # '_' kept: the legacy files use SPY_C450_20240315

SYMBOL_RE = re.compile(r"[A-Za-z0-9._^/=-]+", re.ASCII)
PLAIN_NUMBER_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)
ISO_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_EQUITY_RE = re.compile(r"\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?", re.ASCII)
_SHOWN_MAX = 40


class InputError(ValueError):
    """A user-given value outside the input limits; the message names the value."""


def shown(value: str) -> str:
    """repr() of a value for an error line, shortened so a 10 MB cell stays one line."""
    if len(value) <= _SHOWN_MAX:
        return repr(value)
    return f"{value[:_SHOWN_MAX]!r}… ({len(value)} characters)"


def parse_symbol(value: str) -> str:
    """An ASCII ticker, upper-cased only after the character check."""
    if SYMBOL_RE.fullmatch(value) is None:
        bad = "".join(sorted({ch for ch in value if SYMBOL_RE.fullmatch(ch) is None}))
        raise InputError(
            f"invalid character(s) {shown(bad)} in {shown(value)}; allowed: {SYMBOL_CHARS}"
        )
    if len(value) > MAX_SYMBOL_LEN:
        raise InputError(f"longer than {MAX_SYMBOL_LEN} characters: {shown(value.upper())}")
    return value.upper()


def _sci(limit: Decimal) -> str:
    return f"{limit:.0e}".replace("+", "")  # 1e12


def _finite_decimal(value: str) -> bool:
    try:
        return Decimal(value).is_finite()
    except (InvalidOperation, ValueError):
        return False


def parse_decimal(
    value: str,
    *,
    below: Decimal,
    positive: bool = False,
    nonzero: bool = False,
    max_dp: int | None = None,
) -> Decimal:
    """A plain ASCII decimal (``-12.5``) with ``|value| < below`` and the given sign rule.

    The digit count is checked on the text first, so a 401-digit cell costs nothing.
    """
    kind = "a number > 0" if positive else "a non-zero number" if nonzero else "a number"
    if PLAIN_NUMBER_RE.fullmatch(value) is None:
        hint = "; use plain decimal notation" if value.isascii() and _finite_decimal(value) else ""
        raise InputError(f"must be {kind}, got {shown(value)}{hint}")
    whole, _, frac = value.lstrip("-").partition(".")
    if max_dp is not None and len(frac) > max_dp:
        raise InputError(f"at most {max_dp} decimal places allowed, got {shown(value)}")
    limit_digits = len(str(int(below)))  # 1e12 -> 13 digits: a 13-digit whole part is too big
    if len(whole.lstrip("0")) >= limit_digits:
        size = "" if positive else " in absolute value"
        raise InputError(f"must be less than {_sci(below)}{size}, got {shown(value)}")
    d = Decimal(value)
    if (positive and d <= 0) or (nonzero and d == 0):
        raise InputError(f"must be {kind}, got {shown(value)}")
    return d


def parse_iso_date(value: str) -> date:
    """A ``YYYY-MM-DD`` date in ASCII digits."""
    try:
        if ISO_DATE_RE.fullmatch(value) is None:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"must be a date in YYYY-MM-DD format, got {shown(value)}") from None


def last_allowed_date(today: date | None = None) -> date:
    """The last completed NYSE session (as of the end of `today`, or now when None)."""
    if today is None:
        return calendar.last_completed_session()
    return calendar.last_completed_session(datetime.combine(today, time(23, 59, 59)))


def latest_expiration(last_session: date) -> date:
    """`EXPIRATION_YEARS` years after the last completed session (Feb 29 → Feb 28)."""
    year = last_session.year + EXPIRATION_YEARS
    try:
        return last_session.replace(year=year)
    except ValueError:
        return last_session.replace(year=year, day=28)


def validate_portfolio_name(name: str) -> str:
    """1–100 printable characters, no surrounding blanks; returned unchanged."""
    if not isinstance(name, str) or not name:
        raise InputError("portfolio name must not be empty")
    if len(name) > MAX_NAME_LEN:
        raise InputError(f"portfolio name longer than {MAX_NAME_LEN} characters: {shown(name)}")
    if not name.isprintable():
        bad = sorted({f"U+{ord(c):04X}" for c in name if not c.isprintable()})
        raise InputError(
            f"portfolio name {shown(name)} contains non-printable character(s) {', '.join(bad)}"
        )
    if name != name.strip():
        raise InputError(f"portfolio name {shown(name)} starts or ends with blanks")
    return name


def validate_equity(value: str | Decimal | float) -> Decimal:
    """`--equity`: a positive finite ASCII number below 1e12 with at most 6 decimals."""
    if isinstance(value, bool):
        raise InputError(f"--equity: expected a positive number, got {value!r}")
    text = value.strip() if isinstance(value, str) else repr(value)
    if isinstance(value, Decimal):
        text = str(value)
    try:
        if _EQUITY_RE.fullmatch(text) is None:
            raise InvalidOperation
        equity = Decimal(text)
    except InvalidOperation:
        raise InputError(f"--equity: expected a positive number, got {shown(text)}") from None
    if not equity.is_finite() or equity <= 0:
        raise InputError(f"--equity: expected a positive number, got {shown(text)}")
    if equity >= MAX_EQUITY:
        raise InputError(f"--equity: must be less than {_sci(MAX_EQUITY)}, got {shown(text)}")
    if -equity.normalize().as_tuple().exponent > MAX_EQUITY_DP:
        raise InputError(
            f"--equity: at most {MAX_EQUITY_DP} decimal places allowed, got {shown(text)}"
        )
    return equity


def validate_as_of(value: date | str | None, option: str = "--as-of") -> date | None:
    """`--as-of`: a date from 1990-01-02 to the last completed NYSE session; a non-session
    date means the last session before it. A later date is an error (never invented
    data). None stays None (the caller defaults to the last completed session)."""
    if value is None:
        return None
    if isinstance(value, str):
        if not ISO_DATE_RE.fullmatch(value):
            raise InputError(f"{option}: expected a date YYYY-MM-DD, got {shown(value)}")
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise InputError(f"{option}: expected a date YYYY-MM-DD, got {shown(value)} "
                             "(not a calendar date)") from None
    if isinstance(value, datetime):
        value = value.date()
    last = calendar.last_completed_session()
    if value < EARLIEST_DATE:
        raise InputError(f"{option}: {value.isoformat()} is before the supported calendar's "
                         f"first session {EARLIEST_DATE.isoformat()}")
    if value > last:
        raise InputError(f"{option}: {value.isoformat()} is after the last completed NYSE "
                         f"session {last.isoformat()} (no prices exist for it yet)")
    return calendar.last_session_on_or_before(value)
