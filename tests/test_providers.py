"""Synthetic, CSV, chain and registry providers (no network, no database)."""

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ingest.providers import (
    PRICE_COLUMNS,
    CsvProvider,
    FetchResult,
    ProviderChain,
    ProviderError,
    SyntheticProvider,
    YFinanceProvider,
    provider_from_spec,
)
from ingest.providers.synthetic import FACTOR_ETFS, STYLE_ETFS, parse_option_symbol
from snapfolio.core import calendar

Y2025 = (date(2025, 1, 1), date(2025, 12, 31))


def _series(result: FetchResult, symbol: str, column: str = "close") -> pd.Series:
    rows = result.prices[result.prices["symbol"] == symbol]
    return pd.Series(rows[column].to_numpy(), index=rows["price_date"].to_numpy())


# ---------------------------------------------------------------- synthetic


def test_synthetic_contract_shape_and_sessions() -> None:
    p = SyntheticProvider()
    r = p.fetch(["AAPL", "SPY", "AAPL"], date(2025, 1, 1), date(2025, 1, 31))
    assert list(r.prices.columns) == PRICE_COLUMNS
    assert r.requests == 1 and r.missing == {}
    assert r.sources == {"AAPL": "synthetic", "SPY": "synthetic"}
    sessions = calendar.sessions_between(date(2025, 1, 1), date(2025, 1, 31))
    for sym in ("AAPL", "SPY"):
        s = _series(r, sym)
        assert list(s.index) == sessions  # date objects, NYSE sessions only, no duplicates
        assert isinstance(s.index[0], date)
    assert (r.prices["close"] > 0).all()
    assert np.array_equal(r.prices["close"], r.prices["adj_close"])


def test_synthetic_price_does_not_depend_on_requested_range() -> None:
    many = ["AAPL", "ZZZ", "SPY"] + [f"X{i}" for i in range(300)]  # batch shape must not matter
    wide = SyntheticProvider(seed=7).fetch(many, *Y2025)
    narrow = SyntheticProvider(seed=7).fetch(["ZZZ", "AAPL"], date(2025, 6, 2), date(2025, 6, 6))
    for sym in ("AAPL", "ZZZ"):
        n = _series(narrow, sym)
        assert len(n) == 5
        pd.testing.assert_series_equal(_series(wide, sym).loc[n.index], n, check_exact=True)
    other = SyntheticProvider(seed=8).fetch(["AAPL"], date(2025, 6, 2), date(2025, 6, 6))
    assert not np.allclose(_series(other, "AAPL"), _series(narrow, "AAPL"))


def test_synthetic_golden_values() -> None:
    """Pins the model: a change here changes every demo and benchmark number."""
    r = SyntheticProvider().fetch(["SPY", "AAPL"], date(2025, 1, 2), date(2025, 6, 30))
    assert _series(r, "SPY")[date(2025, 1, 2)] == pytest.approx(585.0, rel=1e-12)  # anchor
    assert _series(r, "SPY")[date(2025, 6, 30)] == pytest.approx(500.8876617765547, rel=1e-12)
    assert _series(r, "AAPL")[date(2025, 6, 30)] == pytest.approx(293.40955556913855, rel=1e-12)


def test_synthetic_unavailable_symbols_are_missing() -> None:
    p = SyntheticProvider(unavailable={"GGIPX", "NEAIX"})
    r = p.fetch(["GGIPX", "SPY", "NEAIX"], date(2025, 1, 2), date(2025, 1, 10))
    assert r.missing == {"GGIPX": "no data from synthetic provider",
                         "NEAIX": "no data from synthetic provider"}
    assert set(r.prices["symbol"]) == {"SPY"}


def test_synthetic_option_priced_from_underlying_and_stops_at_expiry() -> None:
    p = SyntheticProvider()
    occ = "IWM250920C00220000"
    spec = parse_option_symbol(occ)
    assert spec is not None and spec.underlying == "IWM" and spec.strike == 220.0
    r = p.fetch([occ, "IWM"], date(2025, 9, 1), date(2025, 9, 30))
    opt, under = _series(r, occ), _series(r, "IWM")
    assert max(opt.index) == date(2025, 9, 19)  # expiry is a Saturday
    dte = np.array([(spec.expiration - d).days for d in opt.index])
    s = under.loc[opt.index].to_numpy()
    expected = np.round(np.maximum(s - 220.0, 0) + 0.4 * s * 0.25 * np.sqrt(dte / 365), 2)
    assert np.array_equal(opt.to_numpy(), expected)
    put = "IWM250920P00220000"
    assert (_series(p.fetch([put], date(2025, 9, 2), date(2025, 9, 5)), put) > 0).all()
    after = p.fetch([occ], date(2025, 10, 1), date(2025, 10, 31))
    assert after.prices.empty and "expired 2025-09-20" in after.missing[occ]


def _ols_with_se(y: np.ndarray, x: np.ndarray, resid_sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Slopes of OLS with intercept and their standard errors given the true residual sd."""
    xc = x - x.mean(axis=0)
    beta = np.linalg.lstsq(np.column_stack([np.ones(len(y)), x]), y, rcond=None)[0][1:]
    se = resid_sigma * np.sqrt(np.diag(np.linalg.inv(xc.T @ xc)))
    return beta, se


def test_synthetic_known_betas_are_recovered() -> None:
    p = SyntheticProvider()
    symbols = [f"SYM{i:02d}" for i in range(25)] + ["AAPL", "GGIPX"]
    r = p.fetch(symbols + list(FACTOR_ETFS), date(2024, 1, 2), date(2024, 12, 31))
    wide = r.prices.pivot(index="price_date", columns="symbol", values="adj_close")
    rets = wide.pct_change().iloc[1:251]
    assert len(rets) == 250
    z_scores = []
    for sym in symbols:
        truth = p.true_betas(sym)
        assert 0.01 <= p.noise_sigma(sym) < 0.02
        # the market regression's residual is the idiosyncratic noise plus what SPY misses
        assert p.noise_sigma(sym) <= p.residual_sigma(sym, "market_beta") < 1.5 * p.noise_sigma(sym)
        y = rets[sym].to_numpy()
        for factor, cols in (("market_beta", ["SPY"]), ("ir_beta", ["TLT"]),
                             ("value", list(STYLE_ETFS))):
            beta, se = _ols_with_se(y, rets[cols].to_numpy(), p.residual_sigma(sym, factor))
            want = [truth[factor]] if len(cols) == 1 else [
                truth[k] for k in ("value", "growth", "momentum", "quality", "size", "low_vol")]
            z_scores.extend((beta - np.array(want)) / se)
    z = np.abs(np.array(z_scores))
    assert z.max() < 4.5, z.max()  # every estimate within 4.5 standard errors
    assert 0.5 < np.sqrt(np.mean(z**2)) < 1.5  # and errors are of the size theory predicts


def test_synthetic_factor_etfs_have_their_textbook_betas() -> None:
    p = SyntheticProvider()
    assert p.true_betas("SPY")["market_beta"] == pytest.approx(1.0)
    assert abs(p.true_betas("TLT")["market_beta"]) < 0.5  # low correlation with the market
    assert p.true_betas("VTV")["value"] == pytest.approx(1.0)
    assert p.noise_sigma("SPY") == 0.0
    assert p.true_betas("IWM250920C00220000") == p.true_betas("IWM")


def test_synthetic_serves_a_big_universe_in_one_call() -> None:
    # its speed is measured by benchmarks/, not asserted here (a loaded CI machine)
    p = SyntheticProvider(seed=11)
    symbols = [f"U{i:04d}" for i in range(1200)]
    r = p.fetch(symbols, *Y2025)
    assert len(r.prices) == 1200 * len(calendar.sessions_between(*Y2025))


# ---------------------------------------------------------------- csv


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text(text)
    return path


def test_csv_provider_filters_and_reports_missing(tmp_path: Path) -> None:
    path = _write(tmp_path, "symbol,date,close,adj_close\n"
                            "GGIPX,2025-01-06,10.5,10.4\n"
                            "ggipx,2025-01-07,10.6,\n"
                            "GGIPX,2025-01-11,10.7,10.7\n"  # a Saturday: not a session
                            "GGIPX,2025-02-03,11.0,11.0\n"
                            "NEAIX,2025-01-06,20.0,20.0\n")
    p = CsvProvider(path)
    assert p.name == f"csv:{path}"
    r = p.fetch(["GGIPX", "XXX"], date(2025, 1, 1), date(2025, 1, 31))
    assert list(r.prices.columns) == PRICE_COLUMNS
    assert r.prices["price_date"].tolist() == [date(2025, 1, 6), date(2025, 1, 7)]
    assert r.prices["close"].tolist() == [10.5, 10.6]
    assert r.prices["adj_close"].iloc[0] == 10.4 and np.isnan(r.prices["adj_close"].iloc[1])
    assert r.missing == {"XXX": f"not in {path}"}
    assert r.sources == {"GGIPX": f"csv:{path}"}
    assert r.requests == 1
    assert p.fetch(["NEAIX"], date(2025, 1, 1), date(2025, 1, 31)).requests == 0  # read once


def test_csv_without_adj_close_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "symbol,date,close\nAAA,2025-01-06,1.25\n")
    r = CsvProvider(path).fetch(["AAA"], date(2025, 1, 6), date(2025, 1, 6))
    assert r.prices["close"].tolist() == [1.25] and r.prices["adj_close"].isna().all()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("symbol,date,close\nAAA,2025-01-06,1\nAAA,06/01/2025,2\n", r"line 3, column date"),
        ("symbol,date,close\nAAA,2025-01-06,abc\n", r"line 2, column close: .*'abc'"),
        ("symbol,date,close\nAAA,2025-01-06,-1\n", r"line 2, column close"),
        ("symbol,date,close,adj_close\nAAA,2025-01-06,1,x\n", r"line 2, column adj_close"),
        ("symbol,date,close\n,2025-01-06,1\n", r"line 2, column symbol"),
        ("symbol,date,close\nAAA,2025-01-06,1\nAAA,2025-01-06,2\n", r"line 3, column date: dup"),
        ("symbol,day,close\nAAA,2025-01-06,1\n", r"line 1: header lacks column\(s\) date"),
        ("", r"line 1: empty file"),
    ],
)
def test_csv_bad_file_names_line_and_column(tmp_path: Path, text: str, expected: str) -> None:
    p = CsvProvider(_write(tmp_path, text))
    with pytest.raises(ValueError, match=expected):
        p.fetch(["AAA"], date(2025, 1, 1), date(2025, 1, 31))


def test_csv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not found"):
        CsvProvider(tmp_path / "nope.csv").fetch(["AAA"], date(2025, 1, 1), date(2025, 1, 2))


# ---------------------------------------------------------------- chain


class _Recording:
    """Wraps a provider and remembers which symbols it was asked for."""

    def __init__(self, inner: object, fail: bool = False):
        self.inner, self.fail, self.asked = inner, fail, []
        self.name = inner.name  # type: ignore[attr-defined]

    def fetch(self, symbols: list[str], start: date, end: date) -> FetchResult:
        self.asked.append(list(symbols))
        if self.fail:
            raise ProviderError(self.name, symbols, "network down")
        return self.inner.fetch(symbols, start, end)  # type: ignore[attr-defined]


def test_chain_asks_next_provider_only_for_missing(tmp_path: Path) -> None:
    path = _write(tmp_path, "symbol,date,close\nGGIPX,2025-01-06,10\nGGIPX,2025-01-07,11\n"
                            "SPY,2025-01-06,1\n")
    first = _Recording(SyntheticProvider(unavailable={"GGIPX", "NEAIX"}))
    second = _Recording(CsvProvider(path))
    chain = ProviderChain([first, second])
    assert chain.name == f"synthetic,csv:{path}"
    r = chain.fetch(["SPY", "GGIPX", "NEAIX"], date(2025, 1, 6), date(2025, 1, 7))
    assert first.asked == [["SPY", "GGIPX", "NEAIX"]] and second.asked == [["GGIPX", "NEAIX"]]
    assert r.sources == {"SPY": "synthetic", "GGIPX": f"csv:{path}"}
    assert _series(r, "GGIPX").tolist() == [10.0, 11.0]
    assert _series(r, "SPY")[date(2025, 1, 6)] != 1.0  # the first provider wins
    assert set(r.missing) == {"NEAIX"}
    assert r.missing["NEAIX"] == f"synthetic: no data from synthetic provider; csv:{path}: not in {path}"
    assert r.requests == 2
    assert list(r.prices.columns) == PRICE_COLUMNS


def test_chain_falls_back_on_provider_error_and_raises_if_unresolved(tmp_path: Path) -> None:
    path = _write(tmp_path, "symbol,date,close\nGGIPX,2025-01-06,10\n")
    down = _Recording(SyntheticProvider(), fail=True)
    r = ProviderChain([down, CsvProvider(path)]).fetch(["GGIPX"], date(2025, 1, 6), date(2025, 1, 6))
    assert r.sources == {"GGIPX": f"csv:{path}"}
    with pytest.raises(ProviderError) as err:
        ProviderChain([down, CsvProvider(path)]).fetch(["GGIPX", "AAA"], date(2025, 1, 6),
                                                       date(2025, 1, 6))
    assert err.value.symbols == ["AAA"] and "network down" in str(err.value)


# ---------------------------------------------------------------- registry


def test_registry_parses_specs(tmp_path: Path) -> None:
    assert isinstance(provider_from_spec("synthetic"), SyntheticProvider)
    s = provider_from_spec(" synthetic:unavailable=GGIPX+neaix;seed=3 ")
    assert isinstance(s, SyntheticProvider)
    assert s.unavailable == {"GGIPX", "NEAIX"} and s.seed == 3
    y = provider_from_spec("yfinance:chunk_size=50")
    assert isinstance(y, YFinanceProvider) and y.chunk_size == 50
    c = provider_from_spec(f"csv:{tmp_path}/p.csv")
    assert isinstance(c, CsvProvider) and c.path == f"{tmp_path}/p.csv"
    chain = provider_from_spec(f"yfinance, csv:{tmp_path}/p.csv,synthetic")
    assert isinstance(chain, ProviderChain)
    assert [type(p) for p in chain.providers] == [YFinanceProvider, CsvProvider, SyntheticProvider]
    assert chain.name == f"yfinance,csv:{tmp_path}/p.csv,synthetic"


@pytest.mark.parametrize("spec", ["bloomberg", "", "yfinance,,synthetic", "csv:", "synthetic:x=1",
                                  "yfinance:chunk_size=abc"])
def test_registry_rejects_bad_specs_with_one_line(spec: str) -> None:
    with pytest.raises(ValueError) as err:
        provider_from_spec(spec)
    assert "\n" not in str(err.value)
