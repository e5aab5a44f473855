"""Build a provider from a `SNAPFOLIO_PRICE_PROVIDER` spec string.

Grammar (whitespace around items ignored):
    spec     := item ("," item)*          several items -> ProviderChain, in order
    item     := "synthetic" [":" opts] | "yfinance" [":" opts] | "csv:" PATH
    opts     := key "=" value ("," is the chain separator, so options are joined by ";")
synthetic options: seed=INT, unavailable=SYM+SYM+...
yfinance options: chunk_size=INT, max_attempts=INT, max_total_seconds=FLOAT
A CSV path therefore must not contain commas.
"""

from __future__ import annotations

from ingest.providers.base import PriceProvider
from ingest.providers.chain import ProviderChain
from ingest.providers.csv_file import CsvProvider
from ingest.providers.synthetic import SyntheticProvider
from ingest.providers.yfinance_provider import YFinanceProvider

KNOWN = ("synthetic", "yfinance", "csv:PATH")


def _options(kind: str, text: str, allowed: dict[str, type]) -> dict[str, object]:
    out: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or key not in allowed:
            raise ValueError(f"price provider {kind}: unknown option {part!r} "
                             f"(allowed: {', '.join(allowed)})")
        value = value.strip()
        if allowed[key] is frozenset:
            out[key] = frozenset(s.strip().upper() for s in value.split("+") if s.strip())
        else:
            try:
                out[key] = allowed[key](value)
            except ValueError:
                raise ValueError(f"price provider {kind}: option {key} has bad value "
                                 f"{value!r}") from None
    return out


def _one(item: str) -> PriceProvider:
    kind, _, rest = item.partition(":")
    kind = kind.strip().lower()
    if kind == "synthetic":
        return SyntheticProvider(**_options(kind, rest, {"seed": int, "unavailable": frozenset}))
    if kind == "yfinance":
        opts = _options(kind, rest, {"chunk_size": int, "max_attempts": int,
                                     "max_total_seconds": float})
        return YFinanceProvider(**opts)
    if kind == "csv":
        if not rest.strip():
            raise ValueError("price provider csv needs a path: csv:/path/to/prices.csv")
        return CsvProvider(rest.strip())
    raise ValueError(f"unknown price provider {item.strip()!r} (known: {', '.join(KNOWN)})")


def provider_from_spec(spec: str) -> PriceProvider:
    """'synthetic', 'yfinance', 'csv:/p.csv', 'yfinance,csv:/p.csv', ... -> provider."""
    items = [i.strip() for i in (spec or "").split(",")]
    if not any(items):
        raise ValueError(f"empty price provider spec {spec!r} (known: {', '.join(KNOWN)})")
    if not all(items):
        raise ValueError(f"price provider spec {spec!r} has an empty item")
    providers = [_one(i) for i in items]
    return providers[0] if len(providers) == 1 else ProviderChain(providers)
