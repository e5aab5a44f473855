"""Daily closes from Yahoo Finance through yfinance, batched and retried.

Why it looks like this:
- one `yfinance.download` call per chunk of symbols (the old batch made one call per
  symbol per day and hit rate limits); `requests` counts download calls, retries
  included;
- transient failures (HTTP 429 / YFRateLimitError, timeouts, connection errors, 5xx)
  are retried with jittered exponential backoff, bounded by attempts *and* total time,
  then raised as ProviderError so the run fails loudly instead of hanging;
- `yfinance.download` swallows per-ticker exceptions (it logs them and returns NaN
  columns), so the default downloader listens to yfinance's logger during the call and
  turns logged transient errors back into an exception; without this a rate-limited
  batch would look like a batch of delisted symbols and be marked unavailable;
- `downloader` (and `info_getter` for profiles, `Ticker.info`) are injectable so tests
  replay recorded answers and never touch the network.
"""

from __future__ import annotations

import logging
import re
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from ingest.providers.base import FetchResult, ProviderError, empty_prices, normalize_prices
from ingest.providers.profiles import ProfileResult, make_profile
from ingest.providers.sectors import UnknownSectorError
from ingest.providers.stats import ProviderStats
from snapfolio.core import calendar

log = logging.getLogger(__name__)

Downloader = Callable[..., pd.DataFrame | None]
InfoGetter = Callable[[str], dict[str, Any] | None]

NO_DATA = "no data from yfinance"
_SHARE_CLASS = re.compile(r"^([A-Z]{1,5})\.([A-Z]{1,2})$")
# Messages yfinance logs for per-ticker failures that are worth retrying.
_TRANSIENT_TEXT = re.compile(
    r"YFRateLimitError|too many requests|rate limit|timed? ?out|timeout|"
    r"connection ?(error|reset|refused|aborted)|failed to perform|curl: \((6|7|28|35|52|56)\)|"
    r"\b(429|50[0234])\b.*error|error.*\b(429|50[0234])\b|temporarily unavailable",
    re.IGNORECASE,
)


class TransientDownloadError(RuntimeError):
    """yfinance reported (only logged) a retryable failure for some tickers."""


@lru_cache(maxsize=1)
def _transient_types() -> tuple[type[BaseException], ...]:
    """Built lazily: importing yfinance costs ~0.3 s and the CLI rarely needs it."""
    types: list[type[BaseException]] = [TimeoutError, ConnectionError, TransientDownloadError]
    try:
        from yfinance.exceptions import YFRateLimitError

        types.append(YFRateLimitError)
    except ImportError:  # pragma: no cover - yfinance is a hard dependency
        pass
    try:
        import requests.exceptions as rq

        types += [rq.ConnectionError, rq.Timeout, rq.ChunkedEncodingError]
    except ImportError:  # pragma: no cover
        pass
    try:
        import curl_cffi.requests.exceptions as cc

        types += [cc.ConnectionError, cc.Timeout, cc.ChunkedEncodingError, cc.IncompleteRead]
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


def is_transient(exc: BaseException) -> bool:
    """Retry on rate limits, timeouts, connection problems and 5xx; not on bad input."""
    if isinstance(exc, _transient_types()):
        return True
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None) or getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status == 429 or 500 <= status < 600
    return False


class _ErrorCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())


@contextmanager
def _yfinance_errors() -> Iterator[list[str]]:
    logger = logging.getLogger("yfinance")
    handler = _ErrorCollector()
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def download_checked(**kwargs: Any) -> pd.DataFrame | None:
    """`yfinance.download` that raises TransientDownloadError for swallowed 429s/timeouts."""
    import yfinance as yf

    with _yfinance_errors() as messages, warnings.catch_warnings():
        # yfinance trips pandas deprecation warnings that are its business, not the run's
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        frame = yf.download(**kwargs)
    transient = [m for m in messages if _TRANSIENT_TEXT.search(m)]
    if transient:
        raise TransientDownloadError("; ".join(transient)[:500])
    return frame


def to_yahoo(symbol: str) -> str:
    """Yahoo spells share classes with a dash (BRK.B -> BRK-B); OCC symbols lose spaces."""
    s = symbol.strip().upper().replace(" ", "")
    m = _SHARE_CLASS.match(s)
    return f"{m.group(1)}-{m.group(2)}" if m else s


def _session_dates(index: pd.Index) -> np.ndarray:
    """Row labels -> datetime64[D] session dates (tz-aware labels read in New York)."""
    idx = pd.DatetimeIndex(index)
    if idx.tz is not None:
        idx = idx.tz_convert(calendar.NEW_YORK).tz_localize(None)
    return idx.to_numpy().astype("datetime64[D]")


def _field(frame: pd.DataFrame, name: str) -> pd.Series | None:
    if name not in frame.columns:
        return None
    col = frame[name]
    if isinstance(col, pd.DataFrame):  # duplicated column label: take the first
        col = col.iloc[:, 0]
    return pd.to_numeric(col, errors="coerce")


def split_download(frame: pd.DataFrame | None, tickers: list[str]) -> dict[str, pd.DataFrame]:
    """A yfinance.download result -> {TICKER: frame with Close / Adj Close columns}.

    Handles (Ticker, Price) MultiIndex columns (group_by="ticker", yfinance 0.2.x/1.x),
    (Price, Ticker) (group_by="column") and flat single-ticker columns.
    """
    if frame is None or frame.empty:
        return {}
    cols = frame.columns
    if isinstance(cols, pd.MultiIndex):
        price_level = 1 if "Close" in cols.get_level_values(1) else 0
        ticker_level = 1 - price_level
        out = {}
        for t in dict.fromkeys(cols.get_level_values(ticker_level)):
            out[str(t).upper()] = frame.xs(t, axis=1, level=ticker_level)
        return out
    if len(tickers) == 1 and "Close" in cols:
        return {tickers[0].upper(): frame}
    return {}


def ticker_info(ticker: str) -> dict[str, Any] | None:
    """`yfinance.Ticker(t).info` (one quoteSummary request)."""
    import yfinance as yf

    return yf.Ticker(ticker).info


class YFinanceProvider:
    """yfinance-backed provider; see the module docstring for the retry policy."""

    knows_listings = True  # its "no data" means Yahoo lacks the symbol

    def __init__(
        self,
        chunk_size: int = 100,
        max_attempts: int = 5,
        max_total_seconds: float = 120,
        downloader: Downloader | None = None,
        wait: wait_base | None = None,
        timeout: float = 30,
        info_getter: InfoGetter | None = None,
    ) -> None:
        if chunk_size < 1 or max_attempts < 1:
            raise ValueError("chunk_size and max_attempts must be >= 1")
        self.name = "yfinance"
        self.chunk_size = chunk_size
        self.max_attempts = max_attempts
        self.max_total_seconds = max_total_seconds
        self.downloader: Downloader = downloader or download_checked
        self.wait: wait_base = wait or wait_random_exponential(multiplier=1, max=30)
        self.timeout = timeout
        self.info_getter: InfoGetter = info_getter or ticker_info
        self.stats = ProviderStats()

    def fetch(self, symbols: list[str], start: date, end: date) -> FetchResult:
        symbols = list(dict.fromkeys(symbols))
        sessions = calendar.sessions_array(start, end)
        frames: list[pd.DataFrame] = []
        requests = 0
        for i in range(0, len(symbols), self.chunk_size):
            chunk = symbols[i : i + self.chunk_size]
            yahoo = {to_yahoo(s): s for s in chunk}
            try:
                raw, attempts = self._download(list(yahoo), chunk, start, end)
            except ProviderError:
                self.stats.failures += 1
                raise
            requests += attempts
            for ticker, sub in split_download(raw, list(yahoo)).items():
                sym = yahoo.get(ticker)
                close = _field(sub, "Close")
                if sym is None or close is None:
                    continue
                adj = _field(sub, "Adj Close")
                rows = pd.DataFrame({
                    "symbol": sym,
                    "day": _session_dates(sub.index),
                    "close": close.to_numpy(dtype="float64"),
                    "adj_close": (adj.to_numpy(dtype="float64") if adj is not None
                                  else np.full(len(sub), np.nan)),
                })
                rows = rows[np.isfinite(rows["close"]) & np.isin(rows["day"], sessions)]
                frames.append(rows.drop_duplicates("day", keep="last"))
        frames = [f for f in frames if len(f)]
        if frames:
            allrows = pd.concat(frames, ignore_index=True)
            allrows["price_date"] = allrows["day"].to_numpy().astype("datetime64[D]").astype(object)
            prices = normalize_prices(allrows)
        else:
            prices = empty_prices()
        got = set(prices["symbol"])
        self.stats.served |= got
        self.stats.missing |= set(symbols) - got
        return FetchResult(
            prices=prices,
            missing={s: NO_DATA for s in symbols if s not in got},
            requests=requests,
            sources={s: self.name for s in got},
        )

    def _download(
        self, tickers: list[str], symbols: list[str], start: date, end: date
    ) -> tuple[pd.DataFrame | None, int]:
        """One chunk, retried on transient errors; (frame, attempts made)."""
        attempts = 0

        def note_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            self.stats.retries += 1
            log.warning("yfinance attempt %d for %d symbols failed (%s); retrying",
                        state.attempt_number, len(tickers), exc)

        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(self.max_attempts) | stop_before_delay(self.max_total_seconds),
            wait=self.wait,
            before_sleep=note_retry,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    self.stats.requests += 1
                    frame = self.downloader(
                        tickers=tickers,
                        start=start.isoformat(),
                        end=(end + timedelta(days=1)).isoformat(),  # yfinance end is exclusive
                        auto_adjust=False,
                        actions=False,
                        group_by="ticker",
                        threads=False,
                        progress=False,
                        timeout=self.timeout,
                    )
        except Exception as exc:  # every failure becomes a ProviderError naming the symbols
            what = f"{type(exc).__name__}: {exc}"
            if is_transient(exc):
                what = f"gave up after {attempts} attempt(s): {what}"
            raise ProviderError(self.name, symbols, what) from exc
        return frame, attempts

    def fetch_profiles(self, symbols: list[str]) -> ProfileResult:
        """`Ticker.info`: `sector`, `industry`, `quoteType == "ETF"`, `longName`/`shortName`.

        One request per symbol, retried like prices; a symbol whose answer fails for good
        gets that failure as its reason (profiles never stop the run).
        """
        out = ProfileResult()
        for s in dict.fromkeys(symbols):
            try:
                info, attempts = self._retried(lambda s=s: self.info_getter(to_yahoo(s)), [s])
            except ProviderError as exc:
                out.missing[s] = exc.reason
                self.stats.failures += 1
                continue
            out.requests += attempts
            info = info if isinstance(info, dict) else {}
            if not (info.get("quoteType") or info.get("sector")):
                out.missing[s] = f"{NO_DATA} (no profile in Ticker.info)"
                continue
            try:
                out.profiles[s] = make_profile(
                    s, self.name, name=info.get("longName") or info.get("shortName"),
                    sector=info.get("sector"), industry=info.get("industry"),
                    is_etf=info.get("quoteType") == "ETF")
            except UnknownSectorError as exc:
                out.missing[s] = f"yfinance profile rejected: {exc}"
        self.stats.profiles |= set(out.profiles)
        return out

    def _retried(self, call: Callable[[], Any], symbols: list[str]) -> tuple[Any, int]:
        """`call()` retried on transient errors like a download; (result, attempts)."""
        attempts = 0
        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(self.max_attempts) | stop_before_delay(self.max_total_seconds),
            wait=self.wait,
            before_sleep=lambda _: setattr(self.stats, "retries", self.stats.retries + 1),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    self.stats.requests += 1
                    result = call()
        except Exception as exc:  # every failure becomes a ProviderError naming the symbols
            raise ProviderError(self.name, symbols, f"{type(exc).__name__}: {exc}") from exc
        return result, attempts
