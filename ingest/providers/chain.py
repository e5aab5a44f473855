"""Fallback across providers: "yfinance,yahooquery,polygon,fmp" asks yfinance first and
each later provider only for the symbols the earlier ones returned no rows for.

DESIGN: a symbol is unavailable only when every provider had nothing. A provider that
fails (down after its retries, bad key: ProviderError, or `failed` symbols of a partial
answer) never makes a symbol unavailable by itself; its reason is still listed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd

from ingest.providers.base import (
    FetchResult,
    PriceProvider,
    ProviderError,
    empty_prices,
    normalize_prices,
)
from ingest.providers.profiles import ProfileResult, SymbolProfile
from ingest.providers.stats import ProviderStats

log = logging.getLogger(__name__)


def _sent(provider: object) -> int:
    """Requests a provider with its own counters has sent so far (0 for the others)."""
    stats = getattr(provider, "stats", None)
    return stats.requests if isinstance(stats, ProviderStats) else 0


class ProviderChain:
    """Providers in order; each is asked only for the symbols still missing.

    `missing` keeps the symbols no provider had, with every provider's reason joined
    by "; ". `sources` says which provider supplied each symbol's rows. A symbol that
    no provider returned rows for is unavailable when at least one provider that knows
    the market's listings (`knows_listings = True`: yfinance, yahooquery, polygon, fmp)
    answered "no data" for it. If instead every answer about it was a failure or came
    from a provider that only knows its own file (csv:), the first failure is raised
    (re-labelled with the chain's name): a network failure plus "not in my file" says
    nothing about whether the symbol exists.
    """

    def __init__(self, providers: Sequence[PriceProvider]) -> None:
        if not providers:
            raise ValueError("a provider chain needs at least one provider")
        self.providers = list(providers)
        self.name = ",".join(p.name for p in self.providers)
        # counters for providers that keep none themselves (csv:, synthetic)
        self._own: dict[str, ProviderStats] = {}

    # ------------------------------------------------------------ prices

    def fetch(self, symbols: list[str], start: date, end: date) -> FetchResult:
        pending = list(dict.fromkeys(symbols))
        reasons: dict[str, list[str]] = {}
        failed: dict[str, ProviderError] = {}
        denied: set[str] = set()  # a listing-aware provider said "no data"
        frames: list[pd.DataFrame] = []
        sources: dict[str, str] = {}
        requests = 0
        for provider in self.providers:
            if not pending:
                break
            own = self._own_stats(provider)
            sent = _sent(provider)
            try:
                result = provider.fetch(pending, start, end)
            except ProviderError as err:
                requests += _sent(provider) - sent  # a failed call's requests count too
                if own is not None:
                    own.failures += 1
                for s in pending:
                    failed.setdefault(s, err)
                    reasons.setdefault(s, []).append(f"{provider.name}: {err.reason}")
                continue
            requests += result.requests if own is not None else _sent(provider) - sent
            got = set(result.prices["symbol"]) if len(result.prices) else set()
            if got:
                frames.append(result.prices[result.prices["symbol"].isin(pending)])
            for s in got:
                sources.setdefault(s, result.sources.get(s, provider.name))
            knows = bool(getattr(provider, "knows_listings", False))
            for s in pending:
                if s in got:
                    continue
                if s in result.failed:
                    why = result.failed[s]
                    failed.setdefault(s, ProviderError(provider.name, [s], why))
                    reasons.setdefault(s, []).append(f"{provider.name}: {why}")
                    continue
                reasons.setdefault(s, []).append(
                    f"{provider.name}: {result.missing.get(s, 'no data')}")
                if knows:
                    denied.add(s)
            if own is not None:
                own.requests += result.requests
                own.served |= got
                own.missing |= {s for s in pending if s not in got and s not in result.failed}
            pending = [s for s in pending if s not in got]

        unresolved = [s for s in pending if s in failed and s not in denied]
        if unresolved:
            first = failed[unresolved[0]]
            raise ProviderError(self.name, unresolved, str(first)) from first
        prices = normalize_prices(pd.concat(frames, ignore_index=True)) if frames else empty_prices()
        missing = {s: "; ".join(reasons.get(s, ["no data"])) for s in pending}
        return FetchResult(prices=prices, missing=missing, requests=requests, sources=sources)

    # ------------------------------------------------------------ profiles

    def fetch_profiles(self, symbols: list[str]) -> ProfileResult:
        """Profiles in provider order; never raises (a failing provider is a reason).

        A symbol is settled by the first complete profile (an ETF, or a stock with a
        sector); an incomplete one (a name / industry without a sector, e.g. Polygon's)
        is kept in case no later provider has better. `missing` lists every provider's
        reason for the symbols that got no profile at all.
        """
        pending = list(dict.fromkeys(symbols))
        out = ProfileResult()
        partial: dict[str, SymbolProfile] = {}
        reasons: dict[str, list[str]] = {}
        for provider in self.providers:
            fetch = getattr(provider, "fetch_profiles", None)
            if not pending or fetch is None:
                continue
            try:
                result: ProfileResult = fetch(pending)
            except Exception as exc:  # noqa: BLE001 - a profile failure never stops the run
                why = exc.reason if isinstance(exc, ProviderError) else f"{type(exc).__name__}: {exc}"
                for s in pending:
                    reasons.setdefault(s, []).append(f"{provider.name}: {why}")
                continue
            out.requests += result.requests
            own = self._own_stats(provider)
            for s in pending:
                profile = result.profiles.get(s)
                if profile is None:
                    reasons.setdefault(s, []).append(
                        f"{provider.name}: {result.missing.get(s, 'no profile')}")
                elif profile.complete:
                    out.profiles[s] = profile
                    if own is not None:
                        own.profiles.add(s)
                else:
                    partial.setdefault(s, profile)
                    reasons.setdefault(s, []).append(f"{provider.name}: no sector")
            pending = [s for s in pending if s not in out.profiles]
        for s in pending:
            if s in partial:
                out.profiles[s] = partial[s]
            else:
                out.missing[s] = "; ".join(reasons.get(s, ["no provider supplies profiles"]))
        return out

    # ------------------------------------------------------------ stats

    def _own_stats(self, provider: object) -> ProviderStats | None:
        """The chain's counters for a provider without its own, else None."""
        if isinstance(getattr(provider, "stats", None), ProviderStats):
            return None
        return self._own.setdefault(provider.name, ProviderStats())  # type: ignore[attr-defined]

    def stats(self) -> dict[str, dict[str, Any]]:
        """{provider name: counters} in chain order (see ProviderStats.as_dict)."""
        out: dict[str, dict[str, Any]] = {}
        for p in self.providers:
            s = getattr(p, "stats", None)
            out[p.name] = (s if isinstance(s, ProviderStats)
                           else self._own.get(p.name, ProviderStats())).as_dict()
        return out
