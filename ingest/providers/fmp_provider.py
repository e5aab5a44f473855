"""Daily closes and company profiles from Financial Modeling Prep (the `stable` API).

Why it looks like this:
- FMP's stable end-of-day endpoints take one symbol per request (the legacy v3
  comma-separated batch is closed to keys issued after August 2025), so a symbol costs
  two requests: `historical-price-eod/full` (`close`: split-adjusted, as Yahoo's) and,
  only when that had rows, `historical-price-eod/dividend-adjusted` (`adjClose`: split-
  and dividend-adjusted -> `adj_close`); rows are dated by their `date` (New York
  session, no time part);
- FMP reports some errors in a 200 with an `Error Message` body: "Invalid API KEY" is
  read as 401, "Limit Reach" as 429, "Exclusive/Legacy Endpoint" and subscription
  messages as 403, "Premium Query Parameter" (this symbol is not in the plan) as 402;
- an empty list means "no data for this symbol", as do 402/404;
- the key must be a query parameter (`apikey`); httpx logs request URLs at INFO, so a
  filter on the `httpx` logger masks it.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import date
from typing import Any

import httpx
import numpy as np
import pandas as pd
from tenacity.wait import wait_base

from ingest.providers.base import FetchResult, empty_prices, normalize_prices
from ingest.providers.http import HttpCaller, RunGuard, body_snippet, each_until_down
from ingest.providers.profiles import ProfileResult, make_profile
from ingest.providers.ratelimit import Clock, Sleep, budget_for
from ingest.providers.sectors import UnknownSectorError
from ingest.providers.stats import ProviderStats
from snapfolio.core import calendar

DEFAULT_BASE_URL = "https://financialmodelingprep.com/stable"
NO_DATA = "no data from fmp"
NO_DATA_STATUSES = (400, 402, 404)
_ERROR_STATUS = tuple((re.compile(p, re.IGNORECASE), code) for p, code in (
    (r"invalid api ?key", 401),
    (r"limit reach", 429),
    (r"premium query parameter", 402),  # before 403: its text also says "upgrade"
    (r"exclusive endpoint|legacy endpoint|subscription|upgrade", 403),
))
_KEY_IN_URL = re.compile(r"(apikey=)[^&\s\"']+", re.IGNORECASE)


class _MaskKey(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(_KEY_IN_URL.sub(r"\1***", str(a)) if "apikey=" in str(a).lower()
                                else a for a in record.args)
        return True


def _mask_httpx_logs() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _MaskKey) for f in logger.filters):
        logger.addFilter(_MaskKey())


def effective_status(response: Any) -> int:
    """HTTP status, with FMP's 200-with-`Error Message` answers read as what they mean."""
    status = int(response.status_code)
    if status != 200:
        return status
    try:
        body = response.json()
    except ValueError:
        return status
    message = body.get("Error Message") if isinstance(body, dict) else None
    if not message:
        return status
    for pattern, code in _ERROR_STATUS:
        if pattern.search(str(message)):
            return code
    return 400


def _rows(body: Any, field: str) -> pd.DataFrame:
    """A list of {date, <field>} -> frame(day, value); anything else -> empty."""
    if isinstance(body, dict):  # older shape: {"symbol": ..., "historical": [...]}
        body = body.get("historical") or []
    items = [r for r in body if isinstance(r, dict) and r.get("date")] if isinstance(
        body, list) else []
    if not items:
        return pd.DataFrame({"day": pd.Series(dtype="datetime64[s]"), field: []})
    return pd.DataFrame({
        "day": pd.to_datetime([str(r["date"])[:10] for r in items]).to_numpy().astype(
            "datetime64[D]"),
        field: pd.to_numeric(pd.Series([r.get(field) for r in items]),
                             errors="coerce").to_numpy(dtype="float64"),
    })


class FmpProvider:
    """Financial Modeling Prep; see the module docstring for requests, closes and errors."""

    knows_listings = True

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        client: httpx.Client | None = None,
        requests_per_minute: int | None = None,
        max_attempts: int = 5,
        max_total_seconds: float = 120.0,
        timeout: float = 30.0,
        backoff: wait_base | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if not api_key:
            raise ValueError("price provider fmp needs an API key (set FMP_API_KEY)")
        _mask_httpx_logs()
        self.name = "fmp"
        self.base_url = base_url.rstrip("/")
        self.stats = ProviderStats()
        self.client = client or httpx.Client(timeout=timeout)
        self.http = HttpCaller(
            self.name,
            lambda url, params: self.client.get(url, params={**(params or {}), "apikey": api_key}),
            self.stats,
            budget=budget_for(self.name, requests_per_minute, clock=clock, sleep=sleep),
            max_attempts=max_attempts, max_total_seconds=max_total_seconds,
            backoff=backoff, clock=clock, sleep=sleep, status_of=effective_status,
        )
        self.guard = RunGuard(self.name, self.stats)

    def _get(self, path: str, params: dict[str, Any], symbol: str) -> tuple[Any, str | None]:
        """(parsed body, None) or (None, why there is no data)."""
        response = self.http.get(f"{self.base_url}/{path}", params, symbols=[symbol])
        status = effective_status(response)
        if status in NO_DATA_STATUSES:
            return None, f"{NO_DATA} (HTTP {status} {body_snippet(response, 120)})"
        try:
            return response.json(), None
        except ValueError:
            return None, f"{NO_DATA} (unreadable answer {body_snippet(response, 60)!r})"

    # ------------------------------------------------------------ prices

    def fetch(self, symbols: list[str], start: date, end: date) -> FetchResult:
        symbols = list(dict.fromkeys(symbols))
        before = self.stats.requests
        sessions = calendar.sessions_array(start, end)
        frames: list[pd.DataFrame] = []
        reasons: dict[str, str] = {}
        with self.guard.call(symbols):
            failed = each_until_down(symbols, lambda s: self._one(s, start, end, sessions),
                                     frames, reasons)
        rows = pd.concat(frames, ignore_index=True) if frames else None
        prices = normalize_prices(rows) if rows is not None else empty_prices()
        got = set(prices["symbol"])
        missing = {s: reasons.get(s, NO_DATA) for s in symbols if s not in got and s not in failed}
        self.stats.served |= got
        self.stats.missing |= set(missing)
        return FetchResult(prices=prices, missing=missing, requests=self.stats.requests - before,
                           sources={s: self.name for s in got}, failed=failed)

    def _one(self, symbol: str, start: date, end: date, sessions: np.ndarray
             ) -> tuple[pd.DataFrame | None, str | None]:
        window = {"symbol": symbol, "from": start.isoformat(), "to": end.isoformat()}
        body, why = self._get("historical-price-eod/full", window, symbol)
        if why:
            return None, why
        close = _rows(body, "close")
        close = close[np.isin(close["day"], sessions) & np.isfinite(close["close"])]
        if close.empty:
            return None, None
        body, why = self._get("historical-price-eod/dividend-adjusted", window, symbol)
        adj = _rows(body, "adjClose") if not why else _rows([], "adjClose")
        both = close.merge(adj.drop_duplicates("day"), on="day", how="left")
        both = both.drop_duplicates("day", keep="first")
        return pd.DataFrame({
            "symbol": symbol,
            "price_date": both["day"].to_numpy().astype("datetime64[D]").astype(object),
            "close": both["close"].to_numpy(dtype="float64"),
            "adj_close": both["adjClose"].to_numpy(dtype="float64"),
        }), None

    # ------------------------------------------------------------ profiles

    def fetch_profiles(self, symbols: list[str]) -> ProfileResult:
        """Company profile: `companyName`, `sector`, `industry`, `isEtf`."""
        symbols = list(dict.fromkeys(symbols))
        out = ProfileResult()
        before = self.stats.requests
        with self.guard.call(symbols):
            for s in symbols:
                body, why = self._get("profile", {"symbol": s}, s)
                item = body[0] if isinstance(body, list) and body and isinstance(
                    body[0], dict) else None
                if item is None:
                    out.missing[s] = why or f"{NO_DATA} (no company profile)"
                    continue
                try:
                    out.profiles[s] = make_profile(
                        s, self.name, name=item.get("companyName"), sector=item.get("sector"),
                        industry=item.get("industry"), is_etf=bool(item.get("isEtf")))
                except UnknownSectorError as exc:
                    out.missing[s] = f"fmp profile rejected: {exc}"
        out.requests = self.stats.requests - before
        self.stats.profiles |= set(out.profiles)
        return out
