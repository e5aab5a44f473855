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

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ingest.csv_reader import CsvIssue, CsvRejectedError, CsvTable, TableSpec, read_csv_file
from ingest.input_limits import (
    EARLIEST_DATE,
    ISO_DATE_RE,
    MAX_PRICE,
    MAX_SYMBOL_LEN,
    PLAIN_NUMBER_RE,
    SYMBOL_RE,
    InputError,
    parse_decimal,
    parse_symbol,
    shown,
)
from ingest.price_store import MANUAL_SOURCE, write_prices
from snapfolio.core import calendar

__all__ = ["COLUMNS", "ManualLoadResult", "ManualPriceCsvError", "load_manual_prices",
           "parse_manual_prices"]

COLUMNS = ("symbol", "date", "close", "adj_close")
REQUIRED = ("symbol", "date", "close")
SPEC = TableSpec(columns=COLUMNS, required=REQUIRED, noun="prices",
                 header_hint="symbol,date,close[,adj_close]")
MAX_CLOSE = float(MAX_PRICE)  # closes are double precision: the bound is on the double


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
    table = read_csv_file(path, SPEC, ManualPriceCsvError)
    return _parse_table(table, str(path), today or date.today())


def _parse_table(table: CsvTable, source: str, today: date) -> pd.DataFrame:
    issues = list(table.issues)
    width = len(table.header)
    kept = [r for r in table.records if len(r.fields) <= width]
    issues.extend(table.width_issue(r) for r in table.records if len(r.fields) > width)
    # trailing empty cells may be left out: a short record is padded, its cells on its line
    records = [[f.strip() for f in r.fields] + [""] * (width - len(r.fields)) for r in kept]
    lines = [list(r.field_lines) + [r.line] * (width - len(r.fields)) for r in kept]
    cells = pd.DataFrame(records, columns=table.header, dtype=object).reindex(
        columns=COLUMNS, fill_value="")
    rec_line = np.array([r.line for r in kept], dtype=int)
    at = pd.DataFrame(lines, columns=table.header, dtype=float).reindex(columns=COLUMNS)
    at = np.where(np.isnan(at.to_numpy()), rec_line[:, None], at.to_numpy()).astype(int)
    frame = _validate(cells, {c: at[:, i] for i, c in enumerate(COLUMNS)}, today, issues)
    if issues:
        raise ManualPriceCsvError(source, issues)
    return frame


def _validate(cells: pd.DataFrame, line: dict[str, np.ndarray], today: date,
              issues: list[CsvIssue]) -> pd.DataFrame:
    """Column-wise checks over all rows at once; messages only for the failing cells."""

    def flag(mask: np.ndarray | pd.Series, column: str, message) -> None:
        mask = np.asarray(mask, dtype=bool)
        for n, value in zip(line[column][mask], cells[column].to_numpy()[mask], strict=True):
            issues.append(CsvIssue(int(n), column, message(value)))

    raw_sym = cells["symbol"]
    sym_empty = (raw_sym == "").to_numpy()
    # checked before upper-casing: 'ſpy' must not become SPY
    sym_ok = (raw_sym.str.fullmatch(SYMBOL_RE.pattern).to_numpy(dtype=bool)
              & (raw_sym.str.len() <= MAX_SYMBOL_LEN).to_numpy())
    flag(sym_empty, "symbol", lambda v: "required")
    flag(~sym_empty & ~sym_ok, "symbol", _symbol_problem)
    sym = raw_sym.str.upper()

    text = cells["date"]
    iso = text.str.fullmatch(ISO_DATE_RE.pattern).to_numpy(dtype=bool)
    parsed = pd.to_datetime(text.where(iso), format="%Y-%m-%d", errors="coerce")
    day = parsed.to_numpy().astype("datetime64[D]")
    date_empty = (text == "").to_numpy()
    date_bad = ~date_empty & parsed.isna().to_numpy()
    flag(date_empty, "date", lambda v: "required")
    flag(date_bad, "date", lambda v: f"must be a date in YYYY-MM-DD format, got {shown(v)}")
    future = ~date_bad & ~date_empty & (day > np.datetime64(today, "D"))
    flag(future, "date", lambda v: f"{v} is in the future (today is {today.isoformat()})")
    valid_day = ~(date_empty | date_bad | future)
    start = max(EARLIEST_DATE, calendar.CALENDAR_START)
    in_range = valid_day & (day >= np.datetime64(start, "D"))
    flag(valid_day & ~in_range, "date", lambda v: f"{v} is before the supported calendar "
                                                  f"({start.isoformat()})")
    sessions = (calendar.sessions_array(start, today) if in_range.any()
                else np.array([], dtype="datetime64[D]"))
    not_session = in_range & ~np.isin(day, sessions)
    flag(not_session, "date", lambda v: (
        f"{v} is not an NYSE session (the previous session is "
        f"{calendar.previous_session(date.fromisoformat(v)).isoformat()})"))
    date_ok = in_range & ~not_session

    close = _positive(cells, "close", required=True, flag=flag)
    adj = _positive(cells, "adj_close", required=False, flag=flag)

    keyed = sym_ok & date_ok
    key = pd.DataFrame({"s": sym[keyed].to_numpy(), "d": day[keyed],
                        "n": line["date"][keyed]})
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


def _symbol_problem(value: str) -> str:
    try:
        parse_symbol(value)
    except InputError as exc:
        return str(exc)
    return f"invalid symbol {shown(value)}"  # unreachable: the masks agree with parse_symbol


def _positive(cells: pd.DataFrame, column: str, *, required: bool, flag) -> np.ndarray:
    """A plain ASCII decimal whose double is in (0, 1e9) (NaN where empty or invalid)."""
    text = cells[column]
    empty = (text == "").to_numpy()
    plain = text.str.fullmatch(PLAIN_NUMBER_RE.pattern).to_numpy(dtype=bool)
    value = pd.to_numeric(text.where(plain), errors="coerce").to_numpy(dtype=float)
    ok = plain & (value > 0) & (value < MAX_CLOSE)  # 401 digits read as inf: rejected
    if required:
        flag(empty, column, lambda v: "required")
    flag(~empty & ~ok, column, _close_problem)
    return np.where(ok, value, np.nan)


def _close_problem(value: str) -> str:
    if PLAIN_NUMBER_RE.fullmatch(value) and 0 < float(value) < MAX_CLOSE:
        return f"must be a number > 0, got {shown(value)}"  # unreachable: mask and this agree
    if PLAIN_NUMBER_RE.fullmatch(value) and float(value) > 0:
        return f"must be less than 1e9, got {shown(value)}"
    try:  # the shared wording (and hint) for text that is no plain positive number
        parse_decimal(value, below=MAX_PRICE, positive=True)
    except InputError as exc:
        return str(exc)
    return f"must be a number > 0, got {shown(value)}"  # 1e-400: a double reads it as 0
