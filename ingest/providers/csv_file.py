"""Prices from a local CSV file (`symbol,date,close[,adj_close]`), e.g. a vendor export
or the fallback for symbols yfinance does not cover.

The file is read and validated once, on first use, and kept in memory: a run asks
for many (symbol, range) slices and re-reading the file each time would be waste.
A bad file is rejected whole with a ValueError naming the line and column, because
silently skipping a row would show up later as a wrong or stale valuation.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from ingest.providers.base import FetchResult, empty_prices, normalize_prices
from snapfolio.core import calendar

REQUIRED = ("symbol", "date", "close")
_MAX_ERRORS = 20


class CsvProvider:
    """Serves closes from `path`; symbols are matched case-insensitively."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.name = f"csv:{self.path}"
        self._frame: pd.DataFrame | None = None

    def load(self) -> pd.DataFrame:
        """Read and validate the file (once); returns symbol/price_date/close/adj_close."""
        if self._frame is None:
            self._frame = _read(self.path)
        return self._frame

    def fetch(self, symbols: list[str], start: date, end: date) -> FetchResult:
        requests = 0 if self._frame is not None else 1
        frame = self.load()
        symbols = list(dict.fromkeys(symbols))
        by_key = {s.strip().upper(): s for s in symbols}
        lo, hi = np.datetime64(start, "D"), np.datetime64(end, "D")
        days = frame["day"].to_numpy()
        mask = frame["key"].isin(by_key.keys()).to_numpy() & (days >= lo) & (days <= hi)
        rows = frame.loc[mask]
        if len(rows):
            rows = rows.loc[np.isin(rows["day"].to_numpy(), calendar.sessions_array(start, end))]
        if len(rows):
            prices = normalize_prices(pd.DataFrame({
                "symbol": rows["key"].map(by_key),
                "price_date": rows["day"].to_numpy().astype("datetime64[D]").astype(object),
                "close": rows["close"],
                "adj_close": rows["adj_close"],
            }))
        else:
            prices = empty_prices()
        got = set(prices["symbol"])
        missing = {s: f"not in {self.path}" for s in symbols if s not in got}
        return FetchResult(prices=prices, missing=missing, requests=requests,
                           sources={s: self.name for s in got})


def _read(path: str) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise ValueError(f"price file {path}: not found") from None
    except pd.errors.EmptyDataError:
        raise ValueError(f"price file {path}: line 1: empty file, expected a header "
                         f"'symbol,date,close[,adj_close]'") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise ValueError(f"price file {path}: cannot be parsed: {e}") from None

    raw = raw.fillna("")  # short rows leave NaN even with keep_default_na=False
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    absent = [c for c in REQUIRED if c not in raw.columns]
    if absent:
        raise ValueError(f"price file {path}: line 1: header lacks column(s) {', '.join(absent)}"
                         f" (expected symbol,date,close[,adj_close])")
    if "adj_close" not in raw.columns:
        raw["adj_close"] = ""

    line = pd.Series(np.arange(len(raw)) + 2, index=raw.index)  # header is line 1
    sym = raw["symbol"].str.strip().str.upper()
    day = pd.to_datetime(raw["date"].str.strip(), format="%Y-%m-%d", errors="coerce")
    close = pd.to_numeric(raw["close"].str.strip(), errors="coerce")
    adj_text = raw["adj_close"].str.strip()
    adj = pd.to_numeric(adj_text, errors="coerce")

    errors: list[str] = []

    def flag(bad: pd.Series, column: str, what: str) -> None:
        for i in raw.index[bad.to_numpy()]:
            errors.append(f"line {line[i]}, column {column}: {what} {raw.at[i, column]!r}")

    flag(sym == "", "symbol", "empty symbol")
    flag(day.isna(), "date", "not a YYYY-MM-DD date:")
    flag(close.isna() | ~np.isfinite(close) | (close <= 0), "close", "not a positive number:")
    flag((adj_text != "") & (adj.isna() | (adj <= 0)), "adj_close", "not a positive number:")
    dup = pd.Series(False, index=raw.index)
    ok = (sym != "") & day.notna()
    dup[ok] = pd.DataFrame({"s": sym[ok], "d": day[ok]}).duplicated(keep="first")
    for i in raw.index[dup.to_numpy()]:
        errors.append(f"line {line[i]}, column date: duplicate row for "
                      f"{sym[i]} on {raw.at[i, 'date'].strip()}")
    if errors:
        errors.sort(key=lambda e: int(e.split(",")[0].removeprefix("line ")))
        shown = "; ".join(errors[:_MAX_ERRORS])
        more = f" (and {len(errors) - _MAX_ERRORS} more)" if len(errors) > _MAX_ERRORS else ""
        raise ValueError(f"price file {path}: {shown}{more}")

    return pd.DataFrame({
        "key": sym, "day": day.to_numpy().astype("datetime64[D]"),
        "close": close.astype("float64"), "adj_close": adj.astype("float64"),
    })
