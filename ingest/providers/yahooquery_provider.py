"""Daily closes and profiles from Yahoo through the yahooquery package.

Why it looks like this:
- yahooquery gives a second, independent way into Yahoo (its own crumb/cookie
  handling and browser-impersonating curl session), so it still answers when the
  yfinance package breaks on a Yahoo change;
- yahooquery swallows HTTP errors (a 429 body becomes "no data"), so it is handed a
  session whose every GET goes through HttpCaller: the request budget, 429/5xx/timeout
  retries and 401/403 classification happen per request, before yahooquery sees the
  answer. One Ticker (one crumb) serves the run; Yahoo's chart endpoint takes one
  symbol per request, so a batch is a loop over symbols on that Ticker;
- closes: `close` is Yahoo's close (split-adjusted), `adj_close` its `adjclose`
  (split- and dividend-adjusted); yahooquery dates daily bars in the exchange's time
  zone (New York), and a still-open session's row (indexed by a datetime, not a date)
  is dropped;
- profiles: `assetProfile` (`sector`, `industry`) and `quoteType` (`quoteType == "ETF"`,
  `longName` / `shortName`) in one quoteSummary request per symbol.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from tenacity.wait import wait_base

from ingest.providers.base import FetchResult, ProviderError, empty_prices, normalize_prices
from ingest.providers.http import HttpCaller, RunGuard, each_until_down
from ingest.providers.profiles import ProfileResult, make_profile
from ingest.providers.ratelimit import Clock, Sleep, budget_for
from ingest.providers.sectors import UnknownSectorError
from ingest.providers.stats import ProviderStats
from ingest.providers.yfinance_provider import to_yahoo
from snapfolio.core import calendar

NO_DATA = "no data from yahooquery"
TickerFactory = Callable[..., Any]


class _Answer:
    """A response as yahooquery reads it: str url, text, json() (never raising)."""

    def __init__(self, response: Any) -> None:
        self._r = response
        self.url = str(response.url)
        self.status_code = int(response.status_code)
        self.headers = response.headers

    @property
    def text(self) -> str:
        return str(self._r.text)

    def json(self) -> Any:
        try:
            return self._r.json()
        except ValueError:  # an HTML error page: yahooquery reads {} as "no data"
            return {}


class _CheckedSession:
    """The `session` yahooquery is given: each GET is budgeted, retried, classified."""

    def __init__(self, http: HttpCaller) -> None:
        self.http = http
        self.symbols: list[str] = []

    def get(self, url: str, params: dict[str, Any] | None = None, **_: Any) -> _Answer:
        # a refused crumb is not a bad key: yahooquery goes on without one
        fatal = "getcrumb" not in url
        return _Answer(self.http.get(url, params, symbols=self.symbols, auth_fatal=fatal))


def _default_send(timeout: float) -> Callable[[str, Any], Any]:
    """yahooquery's own browser-impersonating session, created on the first request."""
    holder: list[Any] = []

    def send(url: str, params: Any) -> Any:
        if not holder:
            from yahooquery.session_management import initialize_session

            holder.append(initialize_session())
        return holder[0].get(url, params=params, timeout=timeout)

    return send


def _default_ticker(symbols: list[str], session: Any) -> Any:
    from yahooquery import Ticker

    return Ticker(symbols, session=session, validate=False, progress=False)


def history_rows(frame: Any, symbol: str) -> pd.DataFrame:
    """yahooquery's history() (symbol, date) frame -> day / close / adj_close rows."""
    if not isinstance(frame, pd.DataFrame) or frame.empty or "close" not in frame.columns:
        return pd.DataFrame()
    flat = frame.reset_index()
    when = flat["date"] if "date" in flat.columns else flat.iloc[:, 1]
    done = np.array([isinstance(v, date) and not isinstance(v, datetime) for v in when])
    flat, when = flat[done], when[done]
    if flat.empty:
        return flat
    adj = flat["adjclose"] if "adjclose" in flat.columns else pd.Series(np.nan, index=flat.index)
    return pd.DataFrame({
        "symbol": symbol,
        "day": pd.to_datetime(when.astype(str)).to_numpy().astype("datetime64[D]"),
        "close": pd.to_numeric(flat["close"], errors="coerce").to_numpy(dtype="float64"),
        "adj_close": pd.to_numeric(adj, errors="coerce").to_numpy(dtype="float64"),
    })


class YahooQueryProvider:
    """yahooquery-backed provider; see the module docstring."""

    knows_listings = True

    def __init__(
        self,
        *,
        client: Any | None = None,
        ticker_factory: TickerFactory | None = None,
        requests_per_minute: int | None = None,
        max_attempts: int = 5,
        max_total_seconds: float = 120.0,
        timeout: float = 30.0,
        backoff: wait_base | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.name = "yahooquery"
        self.stats = ProviderStats()
        send = ((lambda url, params: client.get(url, params=params)) if client is not None
                else _default_send(timeout))
        self.http = HttpCaller(
            self.name, send, self.stats,
            budget=budget_for(self.name, requests_per_minute, clock=clock, sleep=sleep),
            max_attempts=max_attempts, max_total_seconds=max_total_seconds,
            backoff=backoff, clock=clock, sleep=sleep,
        )
        self.guard = RunGuard(self.name, self.stats)
        self.session = _CheckedSession(self.http)
        self.ticker_factory = ticker_factory or _default_ticker
        self._ticker: Any = None

    def _ticker_for(self, yahoo: str) -> Any:
        self.session.symbols = [yahoo]
        if self._ticker is None:
            self._ticker = self.ticker_factory([yahoo], self.session)
        self._ticker.symbols = [yahoo]
        return self._ticker

    def _call(self, symbol: str, what: Callable[[Any], Any]) -> Any:
        """Run one yahooquery call; its own parsing errors become a ProviderError."""
        ticker = self._ticker_for(to_yahoo(symbol))
        try:
            with warnings.catch_warnings():
                # yahooquery trips pandas deprecations that are its business, not the run's
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", FutureWarning)
                return what(ticker)
        except ProviderError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProviderError(self.name, [symbol],
                                f"unexpected answer ({type(exc).__name__}: {exc})") from exc

    # ------------------------------------------------------------ prices

    def fetch(self, symbols: list[str], start: date, end: date) -> FetchResult:
        symbols = list(dict.fromkeys(symbols))
        before = self.stats.requests
        sessions = calendar.sessions_array(start, end)
        frames: list[pd.DataFrame] = []
        reasons: dict[str, str] = {}

        def one(symbol: str) -> tuple[pd.DataFrame, str | None]:
            frame = self._call(symbol, lambda t: t.history(
                start=start.isoformat(), end=(end + timedelta(days=1)).isoformat(),
                interval="1d", adj_timezone=True))
            rows = history_rows(frame, symbol)
            if len(rows):
                rows = rows[np.isin(rows["day"], sessions) & np.isfinite(rows["close"])]
            return rows, None

        with self.guard.call(symbols):
            failed = each_until_down(symbols, one, frames, reasons)
        frames = [f for f in frames if len(f)]
        if frames:
            rows = pd.concat(frames, ignore_index=True).drop_duplicates(["symbol", "day"],
                                                                        keep="last")
            rows["price_date"] = rows["day"].to_numpy().astype("datetime64[D]").astype(object)
            prices = normalize_prices(rows)
        else:
            prices = empty_prices()
        got = set(prices["symbol"])
        missing = {s: reasons.get(s, NO_DATA) for s in symbols if s not in got and s not in failed}
        self.stats.served |= got
        self.stats.missing |= set(missing)
        return FetchResult(prices=prices, missing=missing, requests=self.stats.requests - before,
                           sources={s: self.name for s in got}, failed=failed)

    # ------------------------------------------------------------ profiles

    def fetch_profiles(self, symbols: list[str]) -> ProfileResult:
        symbols = list(dict.fromkeys(symbols))
        out = ProfileResult()
        before = self.stats.requests
        with self.guard.call(symbols):
            for s in symbols:
                data = self._call(s, lambda t: t.get_modules(["assetProfile", "quoteType"]))
                item = data.get(to_yahoo(s)) if isinstance(data, dict) else None
                if not isinstance(item, dict) or not item:
                    out.missing[s] = f"{NO_DATA} (profile: {item or 'empty answer'})"
                    continue
                quote = item.get("quoteType") if isinstance(item.get("quoteType"), dict) else {}
                asset = (item.get("assetProfile") if isinstance(item.get("assetProfile"), dict)
                         else {})
                if not quote and not asset:
                    out.missing[s] = f"{NO_DATA} (no assetProfile / quoteType)"
                    continue
                try:
                    out.profiles[s] = make_profile(
                        s, self.name, name=quote.get("longName") or quote.get("shortName"),
                        sector=asset.get("sector"), industry=asset.get("industry"),
                        is_etf=quote.get("quoteType") == "ETF")
                except UnknownSectorError as exc:
                    out.missing[s] = f"yahooquery profile rejected: {exc}"
        out.requests = self.stats.requests - before
        self.stats.profiles |= set(out.profiles)
        return out
