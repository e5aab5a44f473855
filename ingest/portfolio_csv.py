"""Parse and validate the 12-column portfolio CSV (pure Python, no database).

An invalid file is rejected whole: every problem is collected as a :class:`CsvIssue`
(physical line number + column) and raised together in one :class:`PortfolioCsvError`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

__all__ = [
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "CsvIssue",
    "CsvRejectedError",
    "PortfolioCsvError",
    "PositionRow",
    "parse_portfolio_csv",
    "parse_portfolio_text",
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
MAX_SYMBOL_LEN = 32
OPTION_MULTIPLIER = 100

_NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SYMBOL_RE = re.compile(r"^[A-Z0-9._^/-]+$")
_LINE_SPLIT_RE = re.compile(r"\r\n|\r|\n")
_CANONICAL = {c.lower(): c for c in COLUMNS}


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


@dataclass(frozen=True)
class CsvIssue:
    """One problem: physical line (0 = whole file), column header name (or "file"), message."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = [f"line {self.line}"] if self.line > 0 else []
        if self.column != "file":
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class CsvRejectedError(ValueError):
    """A CSV rejected whole; ``issues`` lists every problem found (line and column)."""

    def __init__(self, source: str, issues: list[CsvIssue]) -> None:
        self.source = source
        self.issues = sorted(issues, key=lambda i: i.line)
        n = len(self.issues)
        first = str(self.issues[0]) if self.issues else "unknown problem"
        super().__init__(f"{source}: {n} error{'s' if n != 1 else ''}; first: {first}")

    def report(self) -> str:
        """All issues, one per line."""
        return "\n".join(str(i) for i in self.issues)


class PortfolioCsvError(CsvRejectedError):
    """A portfolio CSV rejected whole (nothing is written)."""


def parse_portfolio_csv(path: str | Path, today: date | None = None) -> list[PositionRow]:
    """Read, decode and validate a portfolio CSV file; raise PortfolioCsvError if invalid."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PortfolioCsvError(
            source, [CsvIssue(0, "file", f"cannot read file: {exc.strerror or exc}")]
        ) from None
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise PortfolioCsvError(
            source, [CsvIssue(line, "file", "binary data (NUL byte); expected a UTF-8 text CSV")]
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        msg = f"not valid UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        raise PortfolioCsvError(source, [CsvIssue(line, "file", msg)]) from None
    return parse_portfolio_text(text, source=source, today=today)


def parse_portfolio_text(
    text: str, source: str = "<input>", today: date | None = None
) -> list[PositionRow]:
    """Validate CSV text; return positions in file order or raise PortfolioCsvError."""
    today = today or date.today()
    issues: list[CsvIssue] = []
    text = text.removeprefix("\ufeff")
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise PortfolioCsvError(source, [CsvIssue(line, "file", "binary data (NUL byte)")])

    header: list[str] | None = None
    header_line = 0
    rows: list[PositionRow] = []
    seen: dict[tuple[str, date], int] = {}

    for lineno, raw in enumerate(_LINE_SPLIT_RE.split(text), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if header is None:
            header = _parse_header(raw, lineno, issues)
            header_line = lineno
            if header is None:
                break
            continue
        fields = _split(raw, lineno, issues)
        if fields is None:
            continue
        if all(not f.strip() for f in fields):
            continue  # a row of empty cells (",,,,,") is treated as blank
        fields = [f.strip() for f in fields]
        if len(fields) == len(header):
            row = _validate_row(dict(zip(header, fields)), lineno, today, issues)
        else:
            row = _realigned_row(header, fields, lineno, today)
            if row is None:
                issues.append(
                    CsvIssue(
                        lineno,
                        "file",
                        f"expected {len(header)} fields like the header (line {header_line}), "
                        f"found {len(fields)}",
                    )
                )
        if row is None:
            continue
        key = (row.symbol, row.entry_date)
        if key in seen:
            issues.append(
                CsvIssue(
                    lineno,
                    SYMBOL,
                    f"duplicate position {row.symbol} entered {row.entry_date.isoformat()} "
                    f"(first on line {seen[key]})",
                )
            )
            continue
        seen[key] = lineno
        rows.append(row)

    if header is None and not issues:
        issues.append(CsvIssue(0, "file", "empty file: no header row and no positions"))
    elif header is not None and not rows and not issues:
        issues.append(CsvIssue(header_line, "file", "no positions after the header row"))
    if issues:
        raise PortfolioCsvError(source, issues)
    return rows


def _realigned_row(
    header: list[str], fields: list[str], lineno: int, today: date
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
        row = _validate_row(dict(zip(header, cand)), lineno, today, [])
        if row is not None:
            valid.add(row)
    return valid.pop() if len(valid) == 1 else None


def _is_decimal_like(value: str) -> bool:
    try:
        Decimal(value)
    except ArithmeticError:
        return False
    return True


def _split(raw: str, lineno: int, issues: list[CsvIssue]) -> list[str] | None:
    try:
        return next(csv.reader([raw], strict=True))
    except (csv.Error, StopIteration) as exc:
        issues.append(CsvIssue(lineno, "file", f"malformed CSV line: {exc}"))
        return None


def _parse_header(raw: str, lineno: int, issues: list[CsvIssue]) -> list[str] | None:
    """Map header cells to canonical column names; None if the file cannot be read further."""
    if "," not in raw:
        for delim, name in ((";", "';'"), ("\t", "tab"), ("|", "'|'")):
            if delim in raw:
                issues.append(
                    CsvIssue(lineno, "file", f"expected comma-separated columns, found {name}")
                )
                return None
    cells = _split(raw, lineno, issues)
    if cells is None:
        return None
    names = [c.strip() for c in cells]
    if not any(n.lower() in _CANONICAL for n in names):
        issues.append(
            CsvIssue(
                lineno,
                "file",
                "no header row: the first non-comment line must name the columns "
                f"({','.join(REQUIRED_COLUMNS)},...), got {raw.strip()[:60]!r}",
            )
        )
        return None
    header: list[str] = []
    ok = True
    for n in names:
        canon = _CANONICAL.get(n.lower())
        if canon is None:
            issues.append(CsvIssue(lineno, n or "file", f"unknown column {n!r}"))
            ok = False
        elif canon in header:
            issues.append(CsvIssue(lineno, canon, f"duplicate column {n!r}"))
            ok = False
        header.append(canon or n)
    for req in REQUIRED_COLUMNS:
        if req not in header:
            issues.append(CsvIssue(lineno, req, f"missing required column {req!r}"))
            ok = False
    return header if ok else None


class _RowChecker:
    """Collects issues for one data row."""

    def __init__(self, cells: dict[str, str], lineno: int, issues: list[CsvIssue]) -> None:
        self.cells = cells
        self.lineno = lineno
        self.issues = issues
        self.failed = False

    def get(self, col: str) -> str:
        return self.cells.get(col, "")

    def error(self, col: str, message: str) -> None:
        self.issues.append(CsvIssue(self.lineno, col, message))
        self.failed = True

    def number(
        self, col: str, *, positive: bool = False, nonzero: bool = False, max_dp: int = 6
    ) -> Decimal | None:
        value = self.get(col)
        if not value:
            return None
        kind = "a number > 0" if positive else "a non-zero number" if nonzero else "a number"
        if not _NUMBER_RE.match(value):
            hint = "; use plain decimal notation" if _is_decimal_like(value) else ""
            self.error(col, f"must be {kind}, got {value!r}{hint}")
            return None
        d = Decimal(value)
        if (positive and d <= 0) or (nonzero and d == 0):
            self.error(col, f"must be {kind}, got {value!r}")
            return None
        dp = len(value.partition(".")[2])
        if dp > max_dp:
            self.error(col, f"at most {max_dp} decimal places allowed, got {value!r}")
            return None
        return d

    def iso_date(self, col: str, not_after: date | None = None) -> date | None:
        value = self.get(col)
        if not value:
            return None
        try:
            if not _DATE_RE.match(value):
                raise ValueError
            d = date.fromisoformat(value)
        except ValueError:
            self.error(col, f"must be a date in YYYY-MM-DD format, got {value!r}")
            return None
        if not_after is not None and d > not_after:
            self.error(col, f"{value} is in the future (today is {not_after.isoformat()})")
            return None
        return d

    def symbol(self, col: str) -> str | None:
        value = self.get(col).upper()
        if not value:
            return None
        if not _SYMBOL_RE.match(value):
            bad = "".join(sorted({ch for ch in value if not _SYMBOL_RE.match(ch)}))
            self.error(
                col, f"invalid character(s) {bad!r} in {value!r}; allowed: A-Z 0-9 . - _ ^ /"
            )
            return None
        if len(value) > MAX_SYMBOL_LEN:
            self.error(col, f"longer than {MAX_SYMBOL_LEN} characters: {value!r}")
            return None
        return value

    def choice(self, col: str, allowed: frozenset[str]) -> str | None:
        value = self.get(col).upper()
        if not value:
            return None
        if value not in allowed:
            self.error(col, f"must be one of {', '.join(sorted(allowed))}, got {self.get(col)!r}")
            return None
        return value


def _validate_row(
    cells: dict[str, str], lineno: int, today: date, issues: list[CsvIssue]
) -> PositionRow | None:
    c = _RowChecker(cells, lineno, issues)

    symbol = c.symbol(SYMBOL)
    quantity = c.number(QUANTITY, nonzero=True, max_dp=6)
    if not c.get(QUANTITY):
        c.error(QUANTITY, "required")
    entry_price = c.number(ENTRY_PRICE, positive=True, max_dp=2)
    if not c.get(ENTRY_PRICE):
        c.error(ENTRY_PRICE, "required")
    entry_date = c.iso_date(ENTRY_DATE, not_after=today)
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
        strike = c.number(STRIKE, positive=True, max_dp=3)
        expiration = c.iso_date(EXPIRATION)
        raw_type = c.get(OPTION_TYPE)
        option_type = OPTION_TYPES.get(raw_type.upper())
        if raw_type and option_type is None:
            c.error(OPTION_TYPE, f"must be CALL or PUT (or C/P), got {raw_type!r}")
        if expiration and entry_date and expiration < entry_date:
            c.error(EXPIRATION, f"{expiration} is before Entry Date {entry_date}")
        if not c.get(SYMBOL) and underlying and strike and expiration and option_type:
            # Format B: generate an OCC-style symbol, e.g. IWM250920C00220000.
            symbol = f"{underlying}{expiration:%y%m%d}{option_type[0]}{int(strike * 1000):08d}"
    elif not c.get(SYMBOL):
        c.error(SYMBOL, "required (only option rows may leave it empty)")

    exit_date = c.iso_date(EXIT_DATE, not_after=today)
    exit_price = c.number(EXIT_PRICE, positive=True, max_dp=6)
    if c.get(EXIT_DATE) and not c.get(EXIT_PRICE):
        c.error(EXIT_PRICE, "required when Exit Date is given")
    if c.get(EXIT_PRICE) and not c.get(EXIT_DATE):
        c.error(EXIT_DATE, "required when Exit Price Per Share is given")
    if exit_date and entry_date and exit_date <= entry_date:
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
