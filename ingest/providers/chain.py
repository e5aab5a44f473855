"""Fallback across providers: "yfinance,csv:prices.csv" asks yfinance first and the CSV
only for what yfinance had no data for, so a fund Yahoo lacks can still be priced."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from ingest.providers.base import (
    FetchResult,
    PriceProvider,
    ProviderError,
    empty_prices,
    normalize_prices,
)


class ProviderChain:
    """Providers in order; each is asked only for the symbols still missing.

    `missing` keeps the symbols no provider had, with every provider's reason joined
    by "; ". `sources` says which provider supplied each symbol's rows. A provider
    that fails for good (ProviderError) passes its symbols on to the next; if none of
    the later providers has them either, the first such error is raised (re-labelled
    with the chain's name) rather than reporting them as unavailable, since a network
    failure says nothing about whether the symbol exists.
    """

    def __init__(self, providers: Sequence[PriceProvider]) -> None:
        if not providers:
            raise ValueError("a provider chain needs at least one provider")
        self.providers = list(providers)
        self.name = ",".join(p.name for p in self.providers)

    def fetch(self, symbols: list[str], start: date, end: date) -> FetchResult:
        pending = list(dict.fromkeys(symbols))
        reasons: dict[str, list[str]] = {}
        failed: dict[str, ProviderError] = {}
        frames: list[pd.DataFrame] = []
        sources: dict[str, str] = {}
        requests = 0
        for provider in self.providers:
            if not pending:
                break
            try:
                result = provider.fetch(pending, start, end)
            except ProviderError as err:
                for s in pending:
                    failed.setdefault(s, err)
                continue
            requests += result.requests
            got = set(result.prices["symbol"]) if len(result.prices) else set()
            if got:
                frames.append(result.prices)
            for s in got:
                sources.setdefault(s, result.sources.get(s, provider.name))
            for s, why in result.missing.items():
                if s not in got:
                    reasons.setdefault(s, []).append(f"{provider.name}: {why}")
            pending = [s for s in pending if s not in got]

        unresolved = [s for s in pending if s in failed]
        if unresolved:
            first = failed[unresolved[0]]
            raise ProviderError(self.name, unresolved, str(first)) from first
        prices = normalize_prices(pd.concat(frames, ignore_index=True)) if frames else empty_prices()
        missing = {s: "; ".join(reasons.get(s, ["no data"])) for s in pending}
        return FetchResult(prices=prices, missing=missing, requests=requests, sources=sources)
