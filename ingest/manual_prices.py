"""`snapfolio prices load FILE.csv`: closes for symbols no provider has (private funds).

The file is `symbol,date,close[,adj_close]` (header names case-insensitive, `#` lines
and blank lines ignored). Like the portfolio CSV it is validated whole before anything
is written: every problem is reported at once as `line N, column X: message`, with N
the physical line in the file. A valid file is written in one transaction through the
same path as provider prices (`price_store.write_prices`), so corrections restate the
portfolios that hold the symbol and invalidate its betas.

Decisions: rows are stored with source `manual`, and a provider never overwrites a
manual row later (an operator's price stands until the operator loads another); a
manual load overwrites anything. The symbols become `available` in raw.symbol_status:
they have data now, so their positions are valued from these closes — a date with no
manual close within the stale window makes that snapshot incomplete, as for any
available symbol. Dates must be NYSE sessions (a price on a weekend would never be
used), and no move check is applied (the operator vouches for the number).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ingest.portfolio_csv import _LINE_SPLIT_RE as LINE_SPLIT
from ingest.portfolio_csv import _NUMBER_RE as NUMBER
from ingest.portfolio_csv import _SYMBOL_RE as SYMBOL_CHARS
from ingest.portfolio_csv import MAX_SYMBOL_LEN, CsvIssue, CsvRejectedError
from ingest.portfolio_csv import _split as split_csv_line
from ingest.price_store import MANUAL_SOURCE, write_prices
from snapfolio.core import calendar

__all__ = ["COLUMNS", "ManualLoadResult", "ManualPriceCsvError", "load_manual_prices",
           "parse_manual_prices"]

COLUMNS = ("symbol", "date", "close", "adj_close")
REQUIRED = ("symbol", "date", "close")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ManualPriceCsvError(CsvRejectedError):
    """A manual price CSV rejected whole (nothing is written)."""


@dataclass(frozen=True)
class ManualLoadResult:
    source: str
    rows: int  # rows in the file
    symbols: list[str]
    first_date: date
    last_date: date
    rows_stored: int  # rows inserted or changed (identical rows are not rewritten)
    restated_portfolios: int

    def as_stats(self) -> dict:
        return {"source": self.source, "rows": self.rows, "symbols": self.symbols,
                "first_date": self.first_date.isoformat(), "last_date": self.last_date.isoformat(),
                "rows_stored": self.rows_stored, "restated_portfolios": self.restated_portfolios}


def load_manual_prices(
    engine: Engine, path: str | Path, *, today: date | None = None
) -> ManualLoadResult:
    """Validate `path` whole, then write it in one transaction (source `manual`)."""
    prices = parse_manual_prices(path, today=today)
    now = datetime.now(UTC)
    symbols = sorted(prices["symbol"].unique())
    with engine.begin() as conn:
        outcome = write_prices(conn, prices, now=now)
        conn.execute(
            sa.text(
                """
                insert into raw.symbol_status as st (symbol, status, reason, last_attempt_at)
                select symbol, 'available', 'manual prices', :now
                from unnest(cast(:s as text[])) as u(symbol)
                on conflict (symbol) do update set status = 'available', reason = 'manual prices'
                """
            ),
            {"s": symbols, "now": now},
        )
    return ManualLoadResult(
        source=str(path), rows=len(prices), symbols=symbols,
        first_date=min(prices["price_date"]), last_date=max(prices["price_date"]),
        rows_stored=outcome.rows, restated_portfolios=outcome.restated_portfolios,
    )


def parse_manual_prices(path: str | Path, *, today: date | None = None) -> pd.DataFrame:
    """Read and validate; symbol, price_date, close, adj_close, source — or raise."""
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ManualPriceCsvError(
            source, [CsvIssue(0, "file", f"cannot read file: {exc.strerror or exc}")]) from None
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise ManualPriceCsvError(
            source, [CsvIssue(line, "file", "binary data (NUL byte); expected a UTF-8 text CSV")])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ManualPriceCsvError(source, [CsvIssue(
            line, "file", f"not valid UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                          f"{exc.start})")]) from None
    return _parse_text(text, source, today or date.today())


def _parse_text(text: str, source: str, today: date) -> pd.DataFrame:
    issues: list[CsvIssue] = []
    lines = [(n, raw) for n, raw in enumerate(LINE_SPLIT.split(text), start=1)
             if raw.strip() and not raw.strip().startswith("#")]
    if not lines:
        raise ManualPriceCsvError(source, [CsvIssue(0, "file", "empty file: no header row and "
                                                             "no prices (expected symbol,date,close)")])
    header_line, header_raw = lines[0]
    header = _header(header_raw, header_line, issues)
    if header is None:
        raise ManualPriceCsvError(source, issues)

    numbers, records = [], []
    for n, raw in lines[1:]:  # parsing: the csv module reads one physical line at a time
        fields = split_csv_line(raw, n, issues)
        if fields is None or not any(f.strip() for f in fields):
            continue
        if len(fields) > len(header):
            issues.append(CsvIssue(n, "file", f"expected {len(header)} fields like the header "
                                              f"(line {header_line}), found {len(fields)}"))
            continue
        fields += [""] * (len(header) - len(fields))  # trailing empty cells may be left out
        numbers.append(n)
        records.append([f.strip() for f in fields])
    if not records and not issues:
        issues.append(CsvIssue(header_line, "file", "no prices after the header row"))
    cells = pd.DataFrame(records, columns=header, dtype=object).reindex(columns=COLUMNS,
                                                                        fill_value="")
    frame = _validate(cells, np.array(numbers, dtype=int), today, issues)
    if issues:
        raise ManualPriceCsvError(source, issues)
    return frame


def _header(raw: str, lineno: int, issues: list[CsvIssue]) -> list[str] | None:
    if "," not in raw:
        for delim, name in ((";", "';'"), ("\t", "tab"), ("|", "'|'")):
            if delim in raw:
                issues.append(CsvIssue(lineno, "file",
                                       f"expected comma-separated columns, found {name}"))
                return None
    cells = split_csv_line(raw, lineno, issues)
    if cells is None:
        return None
    names = [c.strip().lower() for c in cells]
    if not set(names) & set(COLUMNS):
        issues.append(CsvIssue(lineno, "file", "no header row: the first non-comment line must "
                                               f"be symbol,date,close[,adj_close], got "
                                               f"{raw.strip()[:60]!r}"))
        return None
    ok = True
    for i, name in enumerate(names):
        if name not in COLUMNS:
            issues.append(CsvIssue(lineno, cells[i].strip() or "file",
                                   f"unknown column {cells[i].strip()!r}"))
            ok = False
        elif name in names[:i]:
            issues.append(CsvIssue(lineno, name, f"duplicate column {cells[i].strip()!r}"))
            ok = False
    for req in REQUIRED:
        if req not in names:
            issues.append(CsvIssue(lineno, req, f"missing required column {req!r}"))
            ok = False
    return names if ok else None


def _validate(cells: pd.DataFrame, line: np.ndarray, today: date,
              issues: list[CsvIssue]) -> pd.DataFrame:
    """Column-wise checks over all rows at once; messages only for the failing cells."""

    def flag(mask: np.ndarray | pd.Series, column: str, message) -> None:
        mask = np.asarray(mask, dtype=bool)
        for n, value in zip(line[mask], cells[column].to_numpy()[mask], strict=True):
            issues.append(CsvIssue(int(n), column, message(value)))

    sym = cells["symbol"].str.upper()
    sym_empty = (sym == "").to_numpy()
    sym_chars = ~sym.str.match(SYMBOL_CHARS.pattern).to_numpy(dtype=bool)
    flag(sym_empty, "symbol", lambda v: "required")
    flag(~sym_empty & sym_chars, "symbol", lambda v: (
        f"invalid character(s) {''.join(sorted({c for c in v.upper() if not SYMBOL_CHARS.match(c)}))!r}"
        f" in {v.upper()!r}; allowed: A-Z 0-9 . - _ ^ /"))
    sym_long = ~sym_empty & ~sym_chars & (sym.str.len() > MAX_SYMBOL_LEN).to_numpy()
    flag(sym_long, "symbol", lambda v: f"longer than {MAX_SYMBOL_LEN} characters: {v.upper()!r}")
    sym_ok = ~(sym_empty | sym_chars | sym_long)

    text = cells["date"]
    parsed = pd.to_datetime(text.where(text.str.match(_DATE.pattern)),
                            format="%Y-%m-%d", errors="coerce")
    day = parsed.to_numpy().astype("datetime64[D]")
    date_empty = (text == "").to_numpy()
    date_bad = ~date_empty & parsed.isna().to_numpy()
    flag(date_empty, "date", lambda v: "required")
    flag(date_bad, "date", lambda v: f"must be a date in YYYY-MM-DD format, got {v!r}")
    future = ~date_bad & ~date_empty & (day > np.datetime64(today, "D"))
    flag(future, "date", lambda v: f"{v} is in the future (today is {today.isoformat()})")
    valid_day = ~(date_empty | date_bad | future)
    in_range = valid_day & (day >= np.datetime64(calendar.CALENDAR_START, "D"))
    flag(valid_day & ~in_range, "date", lambda v: f"{v} is before the supported calendar "
                                                  f"({calendar.CALENDAR_START.isoformat()})")
    sessions = (calendar.sessions_array(calendar.CALENDAR_START, today) if in_range.any()
                else np.array([], dtype="datetime64[D]"))
    not_session = in_range & ~np.isin(day, sessions)
    flag(not_session, "date", lambda v: (
        f"{v} is not an NYSE session (the previous session is "
        f"{calendar.previous_session(date.fromisoformat(v)).isoformat()})"))
    date_ok = in_range & ~not_session

    close = _positive(cells, "close", required=True, flag=flag)
    adj = _positive(cells, "adj_close", required=False, flag=flag)

    keyed = sym_ok & date_ok
    key = pd.DataFrame({"s": sym[keyed].to_numpy(), "d": day[keyed], "n": line[keyed]})
    dup = key.duplicated(["s", "d"], keep="first").to_numpy()
    first_line = key.groupby(["s", "d"])["n"].transform("first").to_numpy()
    for n, s, d, f in zip(key["n"][dup], key["s"][dup], key["d"][dup], first_line[dup],
                          strict=True):
        issues.append(CsvIssue(int(n), "date", f"duplicate price for {s} on "
                                               f"{pd.Timestamp(d).date().isoformat()} "
                                               f"(first on line {f})"))
    return pd.DataFrame({
        "symbol": sym.to_numpy(dtype=object),
        "price_date": day.astype(object),
        "close": close,
        "adj_close": adj,
        "source": MANUAL_SOURCE,
    })


def _positive(cells: pd.DataFrame, column: str, *, required: bool, flag) -> np.ndarray:
    """A plain decimal > 0 (NaN where empty or invalid); flags every bad cell."""
    text = cells[column]
    empty = (text == "").to_numpy()
    plain = text.str.match(NUMBER.pattern).to_numpy(dtype=bool)
    value = pd.to_numeric(text.where(plain), errors="coerce").to_numpy(dtype=float)
    if required:
        flag(empty, column, lambda v: "required")
    flag(~empty & ~(plain & (value > 0)), column, lambda v: f"must be a number > 0, got {v!r}" + (
        "; use plain decimal notation" if _finite(v) and not NUMBER.match(v) else ""))
    return np.where(plain & (value > 0), value, np.nan)


def _finite(value: str) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except ValueError:
        return False
