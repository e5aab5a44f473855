"""Daily closes and ticker details from Polygon (now Massive) over plain httpx.

Why it looks like this:
- the free tier allows 5 requests a minute, so requests are few: one aggregates
  request per ticker and range (`/v2/aggs/ticker/{T}/range/1/day/{from}/{to}`, up to
  50,000 bars), or, when a range has fewer sessions than there are symbols (the daily
  run), one grouped-daily request per session for all of them
  (`/v2/aggs/grouped/locale/us/market/stocks/{date}`); options always go per ticker;
- closes: `close` is the bar's `c` with `adjusted=true` (split-adjusted, the meaning
  Yahoo's and FMP's `close` have, so a symbol's stored history does not jump where the
  provider changes); Polygon's aggregates are never dividend-adjusted, so `adj_close`
  is NaN and the factor step's `coalesce(adj_close, close)` uses the split-adjusted
  close;
- a bar's `t` is the start of its window in UTC milliseconds, i.e. midnight New York
  of the session: converted in New York, never read as a UTC date;
- `resultsCount: 0` / no `results` (unknown or inactive ticker), 404 and 400 mean "no
  data for this ticker"; 401/403 skip the provider for the run (RunGuard), except a 403
  for an option (a stocks-only plan), which is "no data" for that option; 429 (with
  `Retry-After`), 5xx and timeouts are retried (HttpCaller);
- the key goes in an `Authorization: Bearer` header, never in a URL or a log line.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import httpx
import numpy as np
import pandas as pd
from tenacity.wait import wait_base

from ingest.option_symbols import OPTION_RE
from ingest.providers.base import FetchResult, ProviderAuthError, empty_prices, normalize_prices
from ingest.providers.http import HttpCaller, RunGuard, body_snippet, each_until_down
from ingest.providers.profiles import ProfileResult, make_profile
from ingest.providers.ratelimit import Clock, Sleep, budget_for
from ingest.providers.stats import ProviderStats
from snapfolio.core import calendar

DEFAULT_BASE_URL = "https://api.polygon.io"
NO_DATA = "no data from polygon"
NO_DATA_STATUSES = (400, 402, 404)


def to_polygon(symbol: str) -> str:
    """BRK.B stays BRK.B; an OCC option symbol gets Polygon's `O:` prefix."""
    s = symbol.strip().upper().replace(" ", "")
    return f"O:{s}" if OPTION_RE.match(s) else s


def bar_dates(ms: Any) -> np.ndarray:
    """Window starts in UTC ms -> datetime64[D] New York session dates."""
    stamps = pd.to_datetime(pd.Series(ms, dtype="int64"), unit="ms", utc=True)
    return stamps.dt.tz_convert(calendar.NEW_YORK).dt.tz_localize(None).to_numpy().astype(
        "datetime64[D]")


def _json(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class PolygonProvider:
    """Polygon/Massive REST; see the module docstring for requests, closes and errors."""

    knows_listings = True  # its "no data" means the market source lacks the symbol

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        client: httpx.Client | None = None,
        requests_per_minute: int | None = None,
        grouped: bool = True,
        max_attempts: int = 5,
        max_total_seconds: float = 120.0,
        timeout: float = 30.0,
        backoff: wait_base | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if not api_key:
            raise ValueError("price provider polygon needs an API key (set POLYGON_API_KEY)")
        self.name = "polygon"
        self.base_url = base_url.rstrip("/")
        self.grouped = grouped
        self.stats = ProviderStats()
        self.client = client or httpx.Client(timeout=timeout)
        headers = {"Authorization": f"Bearer {api_key}"}
        self.http = HttpCaller(
            self.name,
            lambda url, params: self.client.get(url, params=params, headers=headers),
            self.stats,
            budget=budget_for(self.name, requests_per_minute, clock=clock, sleep=sleep),
            max_attempts=max_attempts, max_total_seconds=max_total_seconds,
            backoff=backoff, clock=clock, sleep=sleep,
        )
        self.guard = RunGuard(self.name, self.stats)

    # ------------------------------------------------------------ prices

    def fetch(self, symbols: list[str], start: date, end: date) -> FetchResult:
        symbols = list(dict.fromkeys(symbols))
        before = self.stats.requests
        with self.guard.call(symbols):
            sessions = calendar.sessions_array(start, end)
            options = [s for s in symbols if to_polygon(s).startswith("O:")]
            stocks = [s for s in symbols if s not in options]
            frames: list[pd.DataFrame] = []
            reasons: dict[str, str] = {}
            if self.grouped and stocks and 0 < len(sessions) < len(stocks):
                frames.append(self._grouped(stocks, sessions))
                per_ticker = options
            else:
                per_ticker = symbols
            failed = each_until_down(per_ticker, lambda s: self._aggregates(s, start, end),
                                     frames, reasons, served_before=sum(map(len, frames)))
        frames = [f for f in frames if len(f)]
        rows = pd.concat(frames, ignore_index=True) if frames else None
        if rows is not None:
            rows = rows[np.isin(rows["day"], sessions) & np.isfinite(rows["close"])]
            rows = rows.drop_duplicates(["symbol", "day"], keep="last")
            rows["price_date"] = rows["day"].to_numpy().astype("datetime64[D]").astype(object)
        prices = normalize_prices(rows) if rows is not None and len(rows) else empty_prices()
        got = set(prices["symbol"])
        missing = {s: reasons.get(s, NO_DATA) for s in symbols if s not in got and s not in failed}
        self.stats.served |= got
        self.stats.missing |= set(missing)
        return FetchResult(prices=prices, missing=missing, requests=self.stats.requests - before,
                           sources={s: self.name for s in got}, failed=failed)

    def _aggregates(self, symbol: str, start: date, end: date) -> tuple[pd.DataFrame, str | None]:
        """One ticker's bars (following `next_url`), or why it has none."""
        ticker = to_polygon(symbol)
        url: str | None = (f"{self.base_url}/v2/aggs/ticker/{ticker}/range/1/day/"
                           f"{start.isoformat()}/{end.isoformat()}")
        params: dict[str, Any] | None = {"adjusted": "true", "sort": "asc", "limit": 50000}
        bars: list[dict[str, Any]] = []
        option = ticker.startswith("O:")
        while url:
            # a stocks plan answers an option with 403: that option, not the key, is refused
            response = self.http.get(url, params, symbols=[symbol], auth_fatal=not option)
            if response.status_code == 401:
                raise ProviderAuthError(self.name, [symbol], f"HTTP 401 {body_snippet(response)}")
            if response.status_code == 403:
                return pd.DataFrame(), (f"{NO_DATA} (options not in this plan: HTTP 403 "
                                        f"{body_snippet(response, 120)})")
            if response.status_code in NO_DATA_STATUSES:
                why = f"{NO_DATA} (HTTP {response.status_code} {body_snippet(response, 120)})"
                return pd.DataFrame(), why
            body = _json(response)
            bars += [b for b in body.get("results") or [] if isinstance(b, dict)]
            url, params = body.get("next_url"), None
        if not bars:
            return pd.DataFrame(), None
        return self._rows(symbol, bars), None

    def _grouped(self, symbols: list[str], sessions: np.ndarray) -> pd.DataFrame:
        """All US stock bars of each session (one request each), kept for `symbols`."""
        wanted = {to_polygon(s): s for s in symbols}
        frames = []
        for day in sessions.astype(object):
            url = f"{self.base_url}/v2/aggs/grouped/locale/us/market/stocks/{day.isoformat()}"
            response = self.http.get(url, {"adjusted": "true"}, symbols=symbols)
            if response.status_code in NO_DATA_STATUSES:
                continue
            bars = [b for b in _json(response).get("results") or []
                    if isinstance(b, dict) and b.get("T") in wanted]
            if bars:
                frames.append(pd.DataFrame({
                    "symbol": [wanted[b["T"]] for b in bars],
                    "day": bar_dates([b.get("t", 0) for b in bars]),
                    "close": pd.to_numeric(pd.Series([b.get("c") for b in bars]),
                                           errors="coerce").to_numpy(dtype="float64"),
                }))
        if not frames:
            return pd.DataFrame()
        out = pd.concat(frames, ignore_index=True)
        return out.assign(adj_close=np.nan)

    def _rows(self, symbol: str, bars: list[dict[str, Any]]) -> pd.DataFrame:
        return pd.DataFrame({
            "symbol": symbol,
            "day": bar_dates([b.get("t", 0) for b in bars]),
            "close": pd.to_numeric(pd.Series([b.get("c") for b in bars]),
                                   errors="coerce").to_numpy(dtype="float64"),
            "adj_close": np.nan,
        })

    # ------------------------------------------------------------ profiles

    def fetch_profiles(self, symbols: list[str]) -> ProfileResult:
        """Ticker details: name, `sic_description` as industry, `type == "ETF"`.

        Polygon has no GICS-like sector (SIC codes do not map one-to-one), so a stock's
        profile from here is incomplete and the chain asks the next provider for a
        sector, keeping this one if nobody has better.
        """
        symbols = list(dict.fromkeys(symbols))
        out = ProfileResult()
        before = self.stats.requests
        with self.guard.call(symbols):
            for s in symbols:
                url = f"{self.base_url}/v3/reference/tickers/{to_polygon(s)}"
                response = self.http.get(url, None, symbols=[s])
                details = _json(response).get("results") if response.status_code == 200 else None
                if not isinstance(details, dict) or not details:
                    out.missing[s] = f"{NO_DATA} (ticker details HTTP {response.status_code})"
                    continue
                out.profiles[s] = make_profile(
                    s, self.name, name=details.get("name"), sector=None,
                    industry=details.get("sic_description"), is_etf=details.get("type") == "ETF")
        out.requests = self.stats.requests - before
        self.stats.profiles |= set(out.profiles)
        return out
