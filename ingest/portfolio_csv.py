"""Parse and validate the 12-column portfolio CSV (pure Python, no database).

An invalid file is rejected whole: every problem is collected as a :class:`CsvIssue`
(physical line number + column) and raised together in one :class:`PortfolioCsvError`.
Reading is ingest.csv_reader's (RFC 4180, UTF-8, size limit); every value is checked
against ingest.input_limits, so whatever passes also fits raw.positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from ingest.csv_reader import (
    FILE,
    CsvIssue,
    CsvRejectedError,
    TableSpec,
    count_lines,
    read_csv_text,
    read_table,
)
from ingest.input_limits import (
    EARLIEST_DATE,
    EXPIRATION_YEARS,
    MAX_EQUITY,
    MAX_PRICE,
    MAX_QUANTITY,
    MAX_SYMBOL_LEN,
    InputError,
    last_allowed_date,
    latest_expiration,
    parse_decimal,
    parse_iso_date,
    parse_symbol,
    shown,
    validate_equity,
    validate_portfolio_name,
)

__all__ = [
    "COLUMNS",
    "MAX_SYMBOL_LEN",
    "REQUIRED_COLUMNS",
    "CsvIssue",
    "CsvRejectedError",
    "InputError",
    "PortfolioCsvError",
    "PositionRow",
    "parse_portfolio_csv",
    "parse_portfolio_text",
    "validate_equity",
    "validate_portfolio_name",
]

SYMBOL = "Symbol"
QUANTITY = "Quantity"
ENTRY_PRICE = "Entry Price Per Share"
ENTRY_DATE = "Entry Date"
CLASS = "Investment Class"
SUBTYPE = "Investment Subtype"
UNDERLYING = "Underlying Symbol"
STRIKE = "Strike Price"
EXPIRATION = "Expiration Date"
OPTION_TYPE = "Option Type"
EXIT_DATE = "Exit Date"
EXIT_PRICE = "Exit Price Per Share"

COLUMNS: tuple[str, ...] = (
    SYMBOL,
    QUANTITY,
    ENTRY_PRICE,
    ENTRY_DATE,
    CLASS,
    SUBTYPE,
    UNDERLYING,
    STRIKE,
    EXPIRATION,
    OPTION_TYPE,
    EXIT_DATE,
    EXIT_PRICE,
)
REQUIRED_COLUMNS: tuple[str, ...] = (SYMBOL, QUANTITY, ENTRY_PRICE, ENTRY_DATE)
OPTION_COLUMNS: tuple[str, ...] = (UNDERLYING, STRIKE, EXPIRATION, OPTION_TYPE)
CLASSES = frozenset({"PUBLIC", "OPTIONS", "PRIVATE"})
SUBTYPES = frozenset(
    {"STOCK", "ETF", "MUTUAL_FUND", "BOND", "CASH", "PRIVATE_EQUITY", "REIT", "CRYPTO", "OTHER"}
)
OPTION_TYPES = {"CALL": "CALL", "C": "CALL", "PUT": "PUT", "P": "PUT"}
OPTION_MULTIPLIER = 100
SPEC = TableSpec(columns=COLUMNS, required=REQUIRED_COLUMNS, noun="positions",
                 header_hint=",".join(REQUIRED_COLUMNS) + ",...")


@dataclass(frozen=True)
class PositionRow:
    """One validated position; ``line`` is the physical (1-based) line in the file."""

    line: int
    symbol: str
    underlying_symbol: str | None
    quantity: Decimal
    entry_price: Decimal
    entry_date: date
    exit_date: date | None
    exit_price: Decimal | None
    investment_class: str
    investment_subtype: str | None
    option_type: str | None
    strike: Decimal | None
    expiration: date | None
    multiplier: int

    @property
    def is_option(self) -> bool:
        return self.investment_class == "OPTIONS"


class PortfolioCsvError(CsvRejectedError):
    """A portfolio CSV rejected whole (nothing is written)."""


def parse_portfolio_csv(path: str | Path, today: date | None = None) -> list[PositionRow]:
    """Read, decode and validate a portfolio CSV file; raise PortfolioCsvError if invalid.

    Dates may run up to the last completed NYSE session as of the end of `today` (default:
    now), option expirations up to 10 years after it.
    """
    text = read_csv_text(path, PortfolioCsvError)
    return parse_portfolio_text(text, source=str(path), today=today)


def parse_portfolio_text(
    text: str, source: str = "<input>", today: date | None = None
) -> list[PositionRow]:
    """Validate CSV text; return positions in file order or raise PortfolioCsvError."""
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        line = count_lines(text[: text.index("\x00") + 1])
        raise PortfolioCsvError(source, [CsvIssue(line, FILE, "binary data (NUL byte)")])
    table = read_table(text, SPEC, source=source, error_type=PortfolioCsvError)
    limits = _Limits.at(today)
    issues = list(table.issues)
    rows: list[PositionRow] = []
    seen: dict[tuple[str, date], int] = {}
    width = len(table.header)
    for record in table.records:
        lines = table.cell_lines(record)
        if len(record.fields) == width:
            row = _validate_row(table.cells(record), lines, record.line, limits, issues)
        else:
            row = _realigned_row(table.header, [f.strip() for f in record.fields], record.line,
                                 limits)
            if row is None:
                issues.append(table.width_issue(record))
        if row is None:
            continue
        key = (row.symbol, row.entry_date)
        if key in seen:
            issues.append(CsvIssue(
                lines.get(SYMBOL, row.line), SYMBOL,
                f"duplicate position {row.symbol} entered {row.entry_date.isoformat()} "
                f"(first on line {seen[key]})"))
            continue
        seen[key] = row.line
        rows.append(row)
    if not issues:
        _check_total(rows, issues)
    if issues:
        raise PortfolioCsvError(source, issues)
    return rows


@dataclass(frozen=True)
class _Limits:
    """The date bounds of one parse (DESIGN "Input limits")."""

    today: date
    last_session: date
    latest_expiration: date

    @classmethod
    def at(cls, today: date | None) -> _Limits:
        last = last_allowed_date(today)
        return cls(today or date.today(), last, latest_expiration(last))


def _check_total(rows: list[PositionRow], issues: list[CsvIssue]) -> None:
    """The derived initial equity Σ|q × entry × multiplier| must fit the equity limit."""
    total = Decimal(0)
    for r in rows:
        total += abs(r.quantity * r.entry_price * r.multiplier)
        if total >= MAX_EQUITY:
            issues.append(CsvIssue(r.line, QUANTITY, (
                f"the positions' total entry value Σ|quantity × entry price × multiplier| "
                f"reaches {total:.6g} on this line; a portfolio's equity must be below 1e12")))
            return


def _realigned_row(
    header: tuple[str, ...], fields: list[str], lineno: int, limits: _Limits
) -> PositionRow | None:
    """Accept a row with too few fields only if exactly one way of restoring them is valid.

    Missing fields can only be empty ones: they are appended at the end or inserted into
    one run of empty fields (e.g. an exited row that lost one of its empty option cells).
    """
    missing = len(header) - len(fields)
    if missing <= 0:
        return None
    candidates = [fields + [""] * missing]
    for i, value in enumerate(fields):
        if not value and (i + 1 == len(fields) or fields[i + 1]):  # last cell of an empty run
            candidates.append(fields[: i + 1] + [""] * missing + fields[i + 1 :])
    valid: set[PositionRow] = set()
    for cand in candidates:
        row = _validate_row(dict(zip(header, cand, strict=True)), {}, lineno, limits, [])
        if row is not None:
            valid.add(row)
    return valid.pop() if len(valid) == 1 else None


class _RowChecker:
    """Collects issues for one data row, each at the physical line its cell starts on."""

    def __init__(self, cells: dict[str, str], lines: dict[str, int], lineno: int,
                 issues: list[CsvIssue], today: date) -> None:
        self.cells = cells
        self.today = today
        self.lines = lines
        self.lineno = lineno
        self.issues = issues
        self.failed = False

    def get(self, col: str) -> str:
        return self.cells.get(col, "")

    def error(self, col: str, message: str) -> None:
        if col in self.cells:
            self.issues.append(CsvIssue(self.lines.get(col, self.lineno), col, message))
        else:  # only "required" can name a column the header lacks: the issue is the row's
            self.issues.append(CsvIssue(self.lineno, FILE, f"{col} (not in the header): {message}"))
        self.failed = True

    def number(self, col: str, *, below: Decimal, positive: bool = False,
               nonzero: bool = False, max_dp: int = 6) -> Decimal | None:
        value = self.get(col)
        if not value:
            return None
        try:
            return parse_decimal(value, below=below, positive=positive, nonzero=nonzero,
                                 max_dp=max_dp)
        except InputError as exc:
            self.error(col, str(exc))
            return None

    def iso_date(self, col: str, latest: date, *, expiration: bool = False) -> date | None:
        value = self.get(col)
        if not value:
            return None
        try:
            d = parse_iso_date(value)
        except InputError as exc:
            self.error(col, str(exc))
            return None
        if d < EARLIEST_DATE:
            self.error(col, f"{value} is before {EARLIEST_DATE.isoformat()}, the earliest "
                            "supported date")
            return None
        if d > latest:
            self.error(col, self._too_late(value, d, latest, expiration))
            return None
        return d

    def _too_late(self, value: str, d: date, latest: date, expiration: bool) -> str:
        if expiration:
            return (f"{value} is more than {EXPIRATION_YEARS} years after the last completed "
                    f"NYSE session (latest allowed {latest.isoformat()})")
        if d > self.today:
            return f"{value} is in the future (today is {self.today.isoformat()})"
        return f"{value} is after the last completed NYSE session ({latest.isoformat()})"

    def symbol(self, col: str) -> str | None:
        value = self.get(col)
        if not value:
            return None
        try:
            return parse_symbol(value)
        except InputError as exc:
            self.error(col, str(exc))
            return None

    def choice(self, col: str, allowed: frozenset[str]) -> str | None:
        value = self.get(col)
        if not value:
            return None
        folded = value.upper() if value.isascii() else value  # 'ſtock' is not STOCK
        if folded not in allowed:
            self.error(col, f"must be one of {', '.join(sorted(allowed))}, got {shown(value)}")
            return None
        return folded


def _validate_row(
    cells: dict[str, str], lines: dict[str, int], lineno: int, limits: _Limits,
    issues: list[CsvIssue],
) -> PositionRow | None:
    c = _RowChecker(cells, lines, lineno, issues, limits.today)
    last = limits.last_session

    symbol = c.symbol(SYMBOL)
    quantity = c.number(QUANTITY, below=MAX_QUANTITY, nonzero=True, max_dp=6)
    if not c.get(QUANTITY):
        c.error(QUANTITY, "required")
    entry_price = c.number(ENTRY_PRICE, below=MAX_PRICE, positive=True, max_dp=2)
    if not c.get(ENTRY_PRICE):
        c.error(ENTRY_PRICE, "required")
    entry_date = c.iso_date(ENTRY_DATE, last)
    if not c.get(ENTRY_DATE):
        c.error(ENTRY_DATE, "required")

    inv_class = c.choice(CLASS, CLASSES)
    subtype = c.choice(SUBTYPE, SUBTYPES)

    # Options: class OPTIONS, or any option column filled.
    is_option = inv_class == "OPTIONS" or any(c.get(col) for col in OPTION_COLUMNS)
    underlying = strike = expiration = option_type = None
    if is_option:
        if inv_class not in (None, "OPTIONS"):
            c.error(CLASS, f"{inv_class} conflicts with the filled option columns (use OPTIONS)")
        for col in OPTION_COLUMNS:
            if not c.get(col):
                c.error(col, "required for an option row")
        underlying = c.symbol(UNDERLYING)
        strike = c.number(STRIKE, below=MAX_PRICE, positive=True, max_dp=3)
        expiration = c.iso_date(EXPIRATION, limits.latest_expiration, expiration=True)
        raw_type = c.get(OPTION_TYPE)
        option_type = OPTION_TYPES.get(raw_type.upper()) if raw_type.isascii() else None
        if raw_type and option_type is None:
            c.error(OPTION_TYPE, f"must be CALL or PUT (or C/P), got {shown(raw_type)}")
        if expiration and entry_date and expiration < entry_date:
            c.error(EXPIRATION, f"{expiration} is before Entry Date {entry_date}")
        if not c.get(SYMBOL) and underlying and strike and expiration and option_type:
            # Format B: generate an OCC-style symbol, e.g. IWM250920C00220000.
            symbol = f"{underlying}{expiration:%y%m%d}{option_type[0]}{int(strike * 1000):08d}"
    elif not c.get(SYMBOL):
        c.error(SYMBOL, "required (only option rows may leave it empty)")

    exit_date = c.iso_date(EXIT_DATE, last)
    exit_price = c.number(EXIT_PRICE, below=MAX_PRICE, positive=True, max_dp=6)
    if c.get(EXIT_DATE) and not c.get(EXIT_PRICE):
        c.error(EXIT_PRICE, "required when Exit Date is given")
    if c.get(EXIT_PRICE) and not c.get(EXIT_DATE):
        c.error(EXIT_DATE, "required when Exit Price Per Share is given")
    if exit_date and entry_date and exit_date <= entry_date:  # the schema's check: exit > entry
        c.error(EXIT_DATE, f"{exit_date} must be after Entry Date {entry_date}")

    if c.failed or not symbol or quantity is None or entry_price is None or entry_date is None:
        return None
    return PositionRow(
        line=lineno,
        symbol=symbol,
        underlying_symbol=underlying,
        quantity=quantity,
        entry_price=entry_price,
        entry_date=entry_date,
        exit_date=exit_date,
        exit_price=exit_price,
        investment_class="OPTIONS" if is_option else (inv_class or "PUBLIC"),
        investment_subtype=subtype,
        option_type=option_type,
        strike=strike,
        expiration=expiration,
        multiplier=OPTION_MULTIPLIER if is_option else 1,
    )
