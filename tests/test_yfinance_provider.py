"""YFinanceProvider against recorded responses: parsing, batching, retries. No network."""

import json
import socket
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import requests
import yfinance
import yfinance.multi
from tenacity import wait_fixed, wait_none
from yfinance.exceptions import YFRateLimitError

from ingest.providers import PRICE_COLUMNS, ProviderError, YFinanceProvider
from ingest.providers.yfinance_provider import (
    NO_DATA,
    TransientDownloadError,
    download_checked,
    is_transient,
    to_yahoo,
)

RECORDED = Path(__file__).parent / "recorded"
JAN = (date(2025, 1, 6), date(2025, 1, 10))


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if anything here opens a Python-level connection."""

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("tests must not use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def load_recorded(name: str) -> pd.DataFrame:
    """Rebuild a recorded yfinance.download frame (see tests/recorded/README.md)."""
    doc = json.loads((RECORDED / f"{name}.json").read_text())
    ix = doc["index"]
    index = pd.DatetimeIndex(pd.to_datetime(ix["values"], utc=ix["tz"] is not None), name="Date")
    if ix["tz"]:
        index = index.tz_convert(ix["tz"])
    cols = doc["columns"]
    if len(cols["names"]) > 1:
        columns: pd.Index = pd.MultiIndex.from_tuples([tuple(c) for c in cols["values"]],
                                                      names=cols["names"])
    else:
        columns = pd.Index(cols["values"], name=cols["names"][0])
    data = np.array([[np.nan if v is None else v for v in row] for row in doc["data"]], float)
    return pd.DataFrame(data, index=index, columns=columns)


class Replay:
    """A downloader that returns (or raises) the given outcomes in order, logging calls."""

    def __init__(self, *outcomes: pd.DataFrame | BaseException):
        self.outcomes = list(outcomes)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> pd.DataFrame:
        self.calls.append(kwargs)
        out = self.outcomes[min(len(self.calls), len(self.outcomes)) - 1]
        if isinstance(out, BaseException):
            raise out
        return out


def _provider(downloader: Callable[..., Any], **kw: Any) -> YFinanceProvider:
    return YFinanceProvider(downloader=downloader, wait=kw.pop("wait", wait_none()), **kw)


def _closes(prices: pd.DataFrame, symbol: str, column: str = "close") -> dict[date, float]:
    rows = prices[prices["symbol"] == symbol]
    return dict(zip(rows["price_date"], rows[column]))


def test_batch_of_three_parsed_with_one_request() -> None:
    replay = Replay(load_recorded("batch_3_symbols"))
    r = _provider(replay).fetch(["AAPL", "MSFT", "SPY"], *JAN)
    assert len(replay.calls) == 1 and r.requests == 1
    call = replay.calls[0]
    assert sorted(call["tickers"]) == ["AAPL", "MSFT", "SPY"]
    assert (call["start"], call["end"]) == ("2025-01-06", "2025-01-11")  # end is exclusive
    assert call["auto_adjust"] is False and call["group_by"] == "ticker"
    assert call["threads"] is False and call["progress"] is False and call["actions"] is False
    assert list(r.prices.columns) == PRICE_COLUMNS
    assert r.missing == {}
    assert r.sources == {"AAPL": "yfinance", "MSFT": "yfinance", "SPY": "yfinance"}
    spy = _closes(r.prices, "SPY")
    assert spy == {date(2025, 1, 6): 595.36, date(2025, 1, 7): 588.63,
                   date(2025, 1, 8): 589.49, date(2025, 1, 10): 580.49}
    assert _closes(r.prices, "AAPL", "adj_close")[date(2025, 1, 10)] == pytest.approx(235.69, 1e-4)
    assert all(isinstance(d, date) for d in r.prices["price_date"])


def test_single_symbol_shapes() -> None:
    for name, sym in (("single_symbol", "TLT"), ("single_symbol_flat", "QQQ")):
        r = _provider(Replay(load_recorded(name))).fetch([sym], *JAN)
        assert r.missing == {} and len(r.prices) == 4
        assert _closes(r.prices, sym)[date(2025, 1, 10)] > 0


def test_delisted_symbol_is_missing_not_an_error() -> None:
    r = _provider(Replay(load_recorded("delisted_in_batch"))).fetch(["SPY", "SIVB"], *JAN)
    assert r.missing == {"SIVB": NO_DATA}
    assert set(r.prices["symbol"]) == {"SPY"}
    # a symbol yfinance left out of the frame entirely is missing too
    r = _provider(Replay(load_recorded("delisted_in_batch"))).fetch(["SPY", "GGIPX"], *JAN)
    assert r.missing == {"GGIPX": NO_DATA}


def test_tz_aware_index_becomes_new_york_session_dates() -> None:
    frame = load_recorded("tz_aware")
    assert frame.index.tz is not None
    r = _provider(Replay(frame)).fetch(["SPY", "AAPL"], *JAN)
    assert sorted(set(r.prices["price_date"])) == [date(2025, 1, d) for d in (6, 7, 8, 10)]
    # the same instants expressed in UTC still map to the New York session date
    utc = frame.copy()
    utc.index = utc.index.tz_convert("UTC")
    r2 = _provider(Replay(utc)).fetch(["SPY", "AAPL"], *JAN)
    pd.testing.assert_frame_equal(r.prices, r2.prices)


def test_rows_outside_range_or_sessions_and_nan_closes_are_dropped() -> None:
    frame = load_recorded("batch_3_symbols")
    frame.loc[pd.Timestamp("2025-01-07"), ("MSFT", "Close")] = np.nan
    r = _provider(Replay(frame)).fetch(["AAPL", "MSFT", "SPY"], date(2025, 1, 7), date(2025, 1, 8))
    assert set(r.prices["price_date"]) == {date(2025, 1, 7), date(2025, 1, 8)}
    assert list(_closes(r.prices, "MSFT")) == [date(2025, 1, 8)]


def test_chunking_makes_one_request_per_chunk() -> None:
    replay = Replay(load_recorded("batch_3_symbols"))
    r = _provider(replay, chunk_size=2).fetch(["AAPL", "MSFT", "SPY"], *JAN)
    assert [len(c["tickers"]) for c in replay.calls] == [2, 1]
    assert r.requests == 2 and r.missing == {}


def test_share_class_symbols_use_yahoo_spelling() -> None:
    frame = load_recorded("single_symbol").rename(columns={"TLT": "BRK-B"}, level=0)
    replay = Replay(frame)
    r = _provider(replay).fetch(["BRK.B"], *JAN)
    assert replay.calls[0]["tickers"] == ["BRK-B"]
    assert set(r.prices["symbol"]) == {"BRK.B"} and r.missing == {}
    assert to_yahoo("IWM   250920C00220000") == "IWM250920C00220000"


def test_rate_limited_twice_then_success_is_retried() -> None:
    replay = Replay(YFRateLimitError(), requests.exceptions.ReadTimeout("read timed out"),
                    load_recorded("batch_3_symbols"))
    r = _provider(replay, max_attempts=5).fetch(["AAPL", "MSFT", "SPY"], *JAN)
    assert len(replay.calls) == 3 and r.requests == 3
    assert len(r.prices) == 12


def test_always_failing_raises_provider_error_within_bounded_time() -> None:
    replay = Replay(YFRateLimitError())
    t0 = time.perf_counter()
    with pytest.raises(ProviderError) as err:
        _provider(replay, max_attempts=4).fetch(["AAPL", "SPY"], *JAN)
    assert time.perf_counter() - t0 < 2
    assert len(replay.calls) == 4
    assert err.value.provider == "yfinance" and err.value.symbols == ["AAPL", "SPY"]
    assert "yfinance" in str(err.value) and "AAPL, SPY" in str(err.value)
    assert "gave up after 4 attempt(s)" in str(err.value)


def test_total_time_bound_stops_retries_before_attempts_run_out() -> None:
    replay = Replay(ConnectionError("reset"))
    t0 = time.perf_counter()
    with pytest.raises(ProviderError):
        _provider(replay, max_attempts=1000, max_total_seconds=0.3, wait=wait_fixed(0.05)).fetch(
            ["AAPL"], *JAN)
    assert time.perf_counter() - t0 < 1.5
    assert 2 <= len(replay.calls) < 20


def test_non_transient_error_is_not_retried() -> None:
    replay = Replay(KeyError("chart"))
    with pytest.raises(ProviderError, match="KeyError"):
        _provider(replay).fetch(["AAPL"], *JAN)
    assert len(replay.calls) == 1


def test_transient_classification() -> None:
    class HTTPError(Exception):
        def __init__(self, status: int):
            self.response = type("R", (), {"status_code": status})()

    assert is_transient(YFRateLimitError())
    assert is_transient(requests.exceptions.ConnectionError())
    assert is_transient(TimeoutError())
    assert is_transient(HTTPError(429)) and is_transient(HTTPError(503))
    assert not is_transient(HTTPError(404))
    assert not is_transient(ValueError("bad symbol"))


# -- the real yfinance.download code path, with its per-ticker fetch replaced (offline) --


class _FakeTicker:
    """Stands in for yfinance.Ticker inside yfinance.download; serves recorded bars."""

    bars: ClassVar[pd.DataFrame] = load_recorded("batch_3_symbols")
    fail: ClassVar[dict[str, BaseException]] = {}

    def __init__(self, ticker: str):
        self.ticker = ticker
        self._price_history = None

    def history(self, **_: Any) -> pd.DataFrame:
        if self.ticker in self.fail:
            raise self.fail[self.ticker]
        if self.ticker not in self.bars.columns.get_level_values(0):
            return pd.DataFrame()
        return self.bars[self.ticker].copy()


@pytest.fixture
def offline_yfinance(monkeypatch: pytest.MonkeyPatch) -> type[_FakeTicker]:
    monkeypatch.setattr(yfinance.multi, "Ticker", _FakeTicker)
    monkeypatch.setattr(_FakeTicker, "fail", {})
    return _FakeTicker


def test_real_download_shape_matches_recordings(offline_yfinance: type[_FakeTicker]) -> None:
    r = YFinanceProvider(wait=wait_none()).fetch(["SPY", "AAPL", "MSFT", "SIVB"], *JAN)
    recorded = _provider(Replay(load_recorded("batch_3_symbols"))).fetch(
        ["SPY", "AAPL", "MSFT", "SIVB"], *JAN)
    pd.testing.assert_frame_equal(r.prices, recorded.prices)
    assert r.missing == {"SIVB": NO_DATA} == recorded.missing
    single = download_checked(tickers=["SPY"], start="2025-01-06", end="2025-01-11",
                              auto_adjust=False, group_by="ticker", threads=False, progress=False)
    assert single is not None and single.columns.names == ["Ticker", "Price"]  # still 2 levels


def test_real_download_rate_limit_is_detected_and_retried(
    offline_yfinance: type[_FakeTicker],
) -> None:
    offline_yfinance.fail = {"MSFT": YFRateLimitError()}
    with pytest.raises(TransientDownloadError, match="Too Many Requests"):
        download_checked(tickers=["AAPL", "MSFT"], start="2025-01-06", end="2025-01-11",
                         auto_adjust=False, group_by="ticker", threads=False, progress=False)
    calls = []

    def flaky(**kw: Any) -> pd.DataFrame | None:
        calls.append(1)
        if len(calls) == 3:
            offline_yfinance.fail = {}
        return download_checked(**kw)

    r = YFinanceProvider(downloader=flaky, wait=wait_none()).fetch(["AAPL", "MSFT"], *JAN)
    assert len(calls) == 3 and r.requests == 3 and r.missing == {}
