"""Deterministic factor-model prices with known betas, for demos, tests and benchmarks.

Model. Eight independent latent daily factors z (market, rates and six styles) drive
the factor ETFs exactly (no ETF noise), e.g. SPY = market, VTV = 0.9 market + value,
TLT = -0.15 market + rates. Every other symbol is
    r = alpha + b_spy r_SPY + b_tlt r_TLT + b_i r_ETF_i + b_j r_ETF_j + sigma_eps e
with two style ETFs i, j and all parameters drawn from an RNG seeded by a stable
(sha256) hash of (seed, symbol). Because every return is linear in z, the population
OLS coefficients of any factor regression are known in closed form: `true_betas`.

Determinism. Returns live on one fixed grid of NYSE sessions (GRID_START..GRID_END);
a price is cumprod(1 + r) along that grid scaled so that it equals p0 on ANCHOR
(2025-01-02; p0 seeded in [10, 500), real early-2025 levels for the factor ETFs), so
it never depends on the requested range and stays plausible near the dates portfolios
use. adj_close == close (no dividends or splits are simulated, nothing to adjust).

Options. An OCC symbol (IWM250920C00220000) is priced from its underlying's path:
max(intrinsic, 0) + 0.4 S sigma sqrt(days_to_expiry / 365), sigma = 0.25, rounded to
cents and floored at 0.01 (a quote never closes at 0), with no rows after expiration.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np
import pandas as pd

from ingest.option_symbols import OptionSpec, parse_option_symbol
from ingest.providers.base import FetchResult, empty_prices, normalize_prices
from snapfolio.core import calendar

GRID_START = date(2015, 1, 2)
GRID_END = date(2030, 12, 31)

LATENT = ("market", "rates", "value", "growth", "momentum", "quality", "size", "low_vol")
_LATENT_MEAN = np.array([0.0004, 0.0001, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
_LATENT_SD = np.array([0.010, 0.007, 0.004, 0.004, 0.004, 0.004, 0.004, 0.004])

FACTOR_ETFS = ("SPY", "TLT", "VTV", "VUG", "MTUM", "QUAL", "IWM", "USMV")
STYLE_ETFS = ("VTV", "VUG", "MTUM", "QUAL", "IWM", "USMV")
# ETF loadings on LATENT (rows follow FACTOR_ETFS): market exposure + own factor.
_ETF_MARKET = {"SPY": 1.0, "TLT": -0.15, "VTV": 0.9, "VUG": 1.1, "MTUM": 1.0, "QUAL": 0.95,
               "IWM": 1.15, "USMV": 0.7}
_ETF_OWN = {"TLT": "rates", "VTV": "value", "VUG": "growth", "MTUM": "momentum",
            "QUAL": "quality", "IWM": "size", "USMV": "low_vol"}
# Prices are anchored at ANCHOR (price there = p0), not at the grid start, so levels stay
# plausible around the dates portfolios actually use; ETFs get their real early-2025 levels.
ANCHOR = date(2025, 1, 2)
_ETF_START_PRICE = {"SPY": 585.0, "TLT": 87.0, "VTV": 170.0, "VUG": 400.0, "MTUM": 200.0,
                    "QUAL": 175.0, "IWM": 222.0, "USMV": 90.0}

# Regressors of each design factor, as rows of ETF weights (spreads are differences).
_STYLE_FACTORS = ("value", "growth", "momentum", "quality", "size", "low_vol")
_SPREADS = {"growth_value_spread": ("VUG", "VTV"), "momentum_spread": ("MTUM", "SPY"),
            "size_spread": ("IWM", "SPY"), "quality_spread": ("QUAL", "SPY")}

OPTION_SIGMA = 0.25
_MAX_CACHED_PATHS = 4096


def _etf_matrix() -> np.ndarray:
    a = np.zeros((len(FACTOR_ETFS), len(LATENT)))
    for i, etf in enumerate(FACTOR_ETFS):
        a[i, 0] = _ETF_MARKET[etf]
        if etf in _ETF_OWN:
            a[i, LATENT.index(_ETF_OWN[etf])] = 1.0
    return a


_A = _etf_matrix()


def _stable_seed(*parts: object) -> int:
    """A seed that is the same in every process (Python's hash() is salted per process)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


@dataclass(frozen=True)
class _Params:
    alpha: float
    etf_weights: np.ndarray  # loadings on FACTOR_ETFS' returns
    sigma_eps: float
    p0: float


class SyntheticProvider:
    """Factor-model prices; symbols in `unavailable` behave like funds with no data."""

    def __init__(self, seed: int = 7, unavailable: Iterable[str] = ()) -> None:
        self.seed = seed
        self.unavailable = frozenset(s.upper() for s in unavailable)
        self.name = "synthetic"
        self._paths: OrderedDict[str, np.ndarray] = OrderedDict()
        self._anchors: dict[str, tuple[date, float]] = {}

    def set_anchors(self, anchors: dict[str, tuple[date, float]]) -> None:
        """Anchor each symbol's path so that it trades at the given price on the given
        date (its first entry in the portfolios in scope): demo P&L is then plausible.
        Only the level moves (a constant factor), so every return and beta is unchanged."""
        changed = {s for s, a in anchors.items() if self._anchors.get(s) != a}
        self._anchors.update(anchors)
        for sym in changed:
            self._paths.pop(sym, None)

    # ---- fixed grid and latent factors (built once per instance) ----
    @cached_property
    def grid(self) -> np.ndarray:
        return calendar.sessions_array(GRID_START, GRID_END)

    @cached_property
    def etf_returns(self) -> np.ndarray:
        """(len(grid), len(FACTOR_ETFS)) daily returns of the factor ETFs."""
        rng = np.random.default_rng(_stable_seed("synthetic-factors", self.seed))
        z = _LATENT_MEAN + _LATENT_SD * rng.standard_normal((len(self.grid), len(LATENT)))
        etf = np.empty((len(self.grid), len(FACTOR_ETFS)))
        for i in range(len(FACTOR_ETFS)):  # elementwise (no BLAS) so every machine agrees
            etf[:, i] = z[:, 0] * _A[i, 0]
            for k in range(1, len(LATENT)):
                if _A[i, k]:
                    etf[:, i] += z[:, k] * _A[i, k]
        return etf

    # ---- per-symbol parameters ----
    def _params(self, symbol: str) -> tuple[_Params, np.random.Generator]:
        """Parameters and the RNG positioned right after them (the noise stream)."""
        rng = np.random.default_rng(_stable_seed("synthetic-symbol", self.seed, symbol))
        w = np.zeros(len(FACTOR_ETFS))
        if symbol in FACTOR_ETFS:
            w[FACTOR_ETFS.index(symbol)] = 1.0
            return _Params(0.0, w, 0.0, _ETF_START_PRICE[symbol]), rng
        u = rng.random(7)
        w[0] = 0.5 + 1.1 * u[0]                     # market beta in [0.5, 1.6)
        w[1] = 0.6 * (u[1] - 0.5)                   # rates loading in [-0.3, 0.3)
        styles = rng.choice(len(STYLE_ETFS), size=2, replace=False)
        w[2 + styles] = 0.5 * (u[2:4] - 0.5)        # two style loadings in [-0.25, 0.25)
        alpha = 0.0004 * (u[4] - 0.5)
        sigma_eps = 0.010 + 0.010 * u[5]            # idiosyncratic vol in [1%, 2%)
        p0 = 10.0 + 490.0 * u[6]
        # SPY's market exposure already sits in the style ETFs: take it out of b_spy so
        # the total (univariate) market beta stays near the drawn value.
        w[0] -= float(w[2:] @ _A[2:, 0])
        return _Params(alpha, w, sigma_eps, p0), rng

    def _paths_for(self, symbols: list[str]) -> list[np.ndarray]:
        """Close paths over the whole grid; uncached ones are generated in one batch."""
        found = {s: self._paths[s] for s in symbols if s in self._paths}
        todo = [s for s in symbols if s not in found]
        if todo:
            n = len(self.grid)
            eps = np.empty((len(todo), n))
            weights = np.empty((len(todo), len(FACTOR_ETFS)))
            alpha, sigma, p0 = (np.empty(len(todo)) for _ in range(3))
            for k, sym in enumerate(todo):
                p, rng = self._params(sym)
                weights[k], alpha[k], sigma[k], p0[k] = p.etf_weights, p.alpha, p.sigma_eps, p.p0
                eps[k] = rng.standard_normal(n)
            # Elementwise in a fixed order, not a matrix product: BLAS rounding depends on
            # the batch shape, and a price must be bit-identical whatever else was asked.
            etf = self.etf_returns
            r = np.empty_like(eps)
            r[:] = alpha[:, None]
            for j in range(len(FACTOR_ETFS)):
                r += weights[:, j, None] * etf[None, :, j]
            eps *= sigma[:, None]
            r += eps
            r += 1.0
            paths = np.cumprod(r, axis=1, out=r)
            anchor = int(np.searchsorted(self.grid, np.datetime64(ANCHOR, "D")))
            paths *= (p0 / paths[:, anchor])[:, None]
            for k, sym in enumerate(todo):
                if sym in self._anchors:
                    day, price = self._anchors[sym]
                    at = min(int(np.searchsorted(self.grid, np.datetime64(day, "D"))),
                             len(self.grid) - 1)
                    paths[k] *= price / paths[k, at]
                found[sym] = self._paths[sym] = paths[k]
        for s in symbols:
            self._paths.move_to_end(s)
        while len(self._paths) > _MAX_CACHED_PATHS:  # LRU bound: ~32 KB per symbol
            self._paths.popitem(last=False)
        return [found[s] for s in symbols]

    # ---- known answers for tests ----
    def loadings(self, symbol: str) -> dict[str, float]:
        """Structural model: 'alpha' and the loading on each factor ETF's return."""
        p, _ = self._params(self._base_symbol(symbol))
        return {"alpha": float(p.alpha), **{e: float(w) for e, w in zip(FACTOR_ETFS, p.etf_weights)}}

    def noise_sigma(self, symbol: str) -> float:
        """Daily sd of the symbol's idiosyncratic noise (0 for the factor ETFs)."""
        return self._params(self._base_symbol(symbol))[0].sigma_eps

    def _population_fit(self, symbol: str, regressors: np.ndarray) -> tuple[np.ndarray, float]:
        """Population OLS of the symbol on regressors (rows = ETF weight vectors)."""
        p, _ = self._params(self._base_symbol(symbol))
        cov_z = np.diag(_LATENT_SD**2)
        bx = regressors @ _A  # regressors' latent loadings
        ws = p.etf_weights @ _A
        sxx = bx @ cov_z @ bx.T
        sxy = bx @ cov_z @ ws
        beta = np.linalg.solve(sxx, sxy)
        resid_var = float(ws @ cov_z @ ws + p.sigma_eps**2 - beta @ sxy)
        return beta, float(np.sqrt(max(resid_var, 0.0)))

    def _factor_regressors(self) -> dict[str, np.ndarray]:
        eye = np.eye(len(FACTOR_ETFS))
        col = {e: eye[i] for i, e in enumerate(FACTOR_ETFS)}
        out = {"market_beta": col["SPY"][None, :], "ir_beta": col["TLT"][None, :],
               "style": np.stack([col[e] for e in STYLE_ETFS])}
        for name, (a, b) in _SPREADS.items():
            out[name] = (col[a] - col[b])[None, :]
        return out

    def true_betas(self, symbol: str) -> dict[str, float]:
        """Population coefficients of each design factor regression for `symbol`.

        market_beta / ir_beta / spreads are univariate OLS slopes; the six style keys
        are the joint OLS slopes on VTV..USMV (the design's ridge, alpha 1 on ~90
        standardized rows, shrinks these by roughly 1%). Options: the underlying's.
        """
        out: dict[str, float] = {}
        for name, x in self._factor_regressors().items():
            beta, _ = self._population_fit(symbol, x)
            if name == "style":
                out.update({f: float(b) for f, b in zip(_STYLE_FACTORS, beta)})
            else:
                out[name] = float(beta[0])
        return out

    def residual_sigma(self, symbol: str, factor: str = "market_beta") -> float:
        """Population residual sd of a factor regression: sets a fit's standard error."""
        regs = self._factor_regressors()
        key = "style" if factor in _STYLE_FACTORS else factor
        return self._population_fit(symbol, regs[key])[1]

    @staticmethod
    def _base_symbol(symbol: str) -> str:
        opt = parse_option_symbol(symbol)
        return opt.underlying if opt else symbol

    # ---- the provider contract ----
    def fetch(self, symbols: list[str], start: date, end: date) -> FetchResult:
        """Closes on grid sessions in [start, end]; one 'request' per call."""
        symbols = list(dict.fromkeys(symbols))
        missing: dict[str, str] = {}
        grid = self.grid
        lo = int(np.searchsorted(grid, np.datetime64(start, "D"), side="left"))
        hi = int(np.searchsorted(grid, np.datetime64(end, "D"), side="right"))
        days = grid[lo:hi]

        plain: list[str] = []
        options: dict[str, OptionSpec] = {}
        for sym in symbols:
            opt = parse_option_symbol(sym)
            base = opt.underlying if opt else sym
            if sym.upper() in self.unavailable or base.upper() in self.unavailable:
                missing[sym] = "no data from synthetic provider"
            elif opt:
                options[sym] = opt
            else:
                plain.append(sym)

        needed = list(dict.fromkeys(plain + [o.underlying for o in options.values()]))
        paths = dict(zip(needed, self._paths_for(needed))) if len(days) else {}

        frames: list[pd.DataFrame] = []
        if plain and len(days):
            block = np.stack([paths[s][lo:hi] for s in plain])
            frames.append(pd.DataFrame({
                "symbol": np.repeat(np.array(plain, dtype=object), len(days)),
                "price_date": np.tile(days.astype(object), len(plain)),
                "close": block.ravel(),
            }))
        for sym, opt in options.items():
            keep = days <= np.datetime64(opt.expiration, "D")
            if not keep.any():
                continue
            s = paths[opt.underlying][lo:hi][keep]
            dte = (np.datetime64(opt.expiration, "D") - days[keep]).astype(np.int64)
            intrinsic = np.maximum(s - opt.strike if opt.kind == "C" else opt.strike - s, 0.0)
            # floored at one tick: a quoted option never closes at 0 (a 0 would be rejected)
            value = np.maximum(
                np.round(intrinsic + 0.4 * s * OPTION_SIGMA * np.sqrt(dte / 365.0), 2), 0.01
            )
            frames.append(pd.DataFrame({
                "symbol": sym, "price_date": days[keep].astype(object), "close": value,
            }))

        prices = pd.concat(frames, ignore_index=True) if frames else empty_prices()
        if frames:
            prices["adj_close"] = prices["close"]
            prices = normalize_prices(prices)
        got = set(prices["symbol"].unique()) if len(prices) else set()
        for sym in symbols:
            if sym in missing or sym in got:
                continue
            opt = options.get(sym)
            if opt and opt.expiration < start:
                missing[sym] = f"option expired {opt.expiration.isoformat()}; no prices after"
            else:
                missing[sym] = (f"no data from synthetic provider in {start}..{end} "
                                f"(covers {GRID_START}..{GRID_END})")
        return FetchResult(prices=prices, missing=missing, requests=1,
                           sources={s: self.name for s in got})
