"""The price-provider contract every source (yfinance, csv, synthetic) implements.

Providers are stateless about the database: they are asked for a set of symbols and a
date range and return whatever closes they have. Scoping (which symbols, which missing
ranges) and storage live in `ingest.price_store`, so every provider gets the same
scoping for free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol, runtime_checkable

import pandas as pd

PRICE_COLUMNS = ["symbol", "price_date", "close", "adj_close"]


class ProviderError(RuntimeError):
    """A provider failed for good (after its retries): names the provider and the symbols."""

    def __init__(self, provider: str, symbols: list[str], message: str) -> None:
        self.provider = provider
        self.symbols = list(symbols)
        self.reason = message
        shown = ", ".join(self.symbols[:10]) + (" …" if len(self.symbols) > 10 else "")
        super().__init__(f"price provider {provider} failed for {shown}: {message}")


class ProviderAuthError(ProviderError):
    """HTTP 401/403 (bad key, plan without this data): retrying cannot help, so the
    provider is skipped for the rest of the run."""


@dataclass
class FetchResult:
    """Prices a provider returned plus the symbols it had no data for at all.

    `prices` has exactly PRICE_COLUMNS: symbol (str), price_date (datetime.date),
    close (float), adj_close (float or NaN). `missing` maps symbol -> reason for
    symbols the provider was asked for and returned no rows at all. `requests`
    counts the network/file requests made, for the run's stats and tests.
    `sources` maps symbol -> name of the provider that supplied its rows (a chain
    asks several providers; `raw.prices.source` records which one answered).
    `failed` maps symbol -> reason for symbols the provider could not be asked about
    (it gave up on retries part-way through a batch): unlike `missing`, that says
    nothing about the symbol, so they are neither unavailable nor covered.
    """

    prices: pd.DataFrame
    missing: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    sources: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class PriceProvider(Protocol):
    name: str

    def fetch(self, symbols: list[str], start: date, end: date) -> FetchResult:
        """Closes for `symbols` on NYSE sessions in [start, end] (inclusive)."""
        ...


def empty_prices() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object" if c in ("symbol", "price_date") else "float64") for c in PRICE_COLUMNS})


def normalize_prices(df: pd.DataFrame) -> pd.DataFrame:
    """Coerce a provider's rows to exactly PRICE_COLUMNS with the contract dtypes.

    Sorted by (symbol, price_date) with a fresh index, so results from different
    providers concatenate and compare cleanly.
    """
    if df.empty:
        return empty_prices()
    out = pd.DataFrame(
        {
            "symbol": df["symbol"].astype(str).astype(object),
            "price_date": df["price_date"].astype(object),
            "close": pd.to_numeric(df["close"], errors="coerce").astype("float64"),
            "adj_close": pd.to_numeric(df["adj_close"], errors="coerce").astype("float64"),
        }
    )
    return out.sort_values(["symbol", "price_date"], kind="stable").reset_index(drop=True)
