"""Build a provider from a `SNAPFOLIO_PRICE_PROVIDER` spec string.

Grammar (whitespace around items ignored):
    spec     := item ("," item)*          several items -> ProviderChain, in order
    item     := "synthetic" [":" opts] | "yfinance" [":" opts] | "yahooquery" [":" opts]
              | "polygon" [":" opts] | "fmp" [":" opts] | "csv:" PATH | "real"
    opts     := key "=" value ("," is the chain separator, so options are joined by ";")
synthetic options: seed=INT, unavailable=SYM+SYM+...
yfinance options: chunk_size=INT, max_attempts=INT, max_total_seconds=FLOAT
yahooquery, polygon, fmp options: requests_per_minute=INT (0 = no budget; default from
    SNAPFOLIO_<NAME>_REQUESTS_PER_MINUTE, else 60 / 5 / 300), max_attempts=INT,
    max_total_seconds=FLOAT; polygon and fmp also base_url=URL; polygon grouped=BOOL.
polygon reads its key from POLYGON_API_KEY, fmp from FMP_API_KEY (never from the spec,
    so a key is never printed with the provider's name).
"real" is the default real chain: yfinance,yahooquery, then polygon and fmp when their
    keys are set (see `real_chain_spec`). The project's default setting stays `synthetic`.
A CSV path therefore must not contain commas.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ingest.providers.base import PriceProvider
from ingest.providers.chain import ProviderChain
from ingest.providers.csv_file import CsvProvider
from ingest.providers.synthetic import SyntheticProvider
from ingest.providers.yfinance_provider import YFinanceProvider

KNOWN = ("synthetic", "yfinance", "yahooquery", "polygon", "fmp", "csv:PATH", "real")
KEY_ENV = {"polygon": "POLYGON_API_KEY", "fmp": "FMP_API_KEY"}
_HTTP_OPTIONS: dict[str, type] = {"requests_per_minute": int, "max_attempts": int,
                                  "max_total_seconds": float}


def _bool(text: str) -> bool:
    t = text.strip().lower()
    if t in ("true", "yes", "1"):
        return True
    if t in ("false", "no", "0"):
        return False
    raise ValueError(text)


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
                out[key] = (_bool if allowed[key] is bool else allowed[key])(value)
            except ValueError:
                raise ValueError(f"price provider {kind}: option {key} has bad value "
                                 f"{value!r}") from None
    return out


def _key(kind: str, environ: Mapping[str, str]) -> str:
    key = environ.get(KEY_ENV[kind], "").strip()
    if not key:
        raise ValueError(f"price provider {kind} needs an API key: set {KEY_ENV[kind]}")
    return key


def _one(item: str, environ: Mapping[str, str]) -> PriceProvider:
    kind, _, rest = item.partition(":")
    kind = kind.strip().lower()
    if kind == "synthetic":
        return SyntheticProvider(**_options(kind, rest, {"seed": int, "unavailable": frozenset}))
    if kind == "yfinance":
        opts = _options(kind, rest, {"chunk_size": int, "max_attempts": int,
                                     "max_total_seconds": float})
        return YFinanceProvider(**opts)
    if kind == "yahooquery":
        from ingest.providers.yahooquery_provider import YahooQueryProvider

        return YahooQueryProvider(**_options(kind, rest, _HTTP_OPTIONS))
    if kind == "polygon":
        from ingest.providers.polygon_provider import PolygonProvider

        opts = _options(kind, rest, {**_HTTP_OPTIONS, "base_url": str, "grouped": bool})
        return PolygonProvider(_key(kind, environ), **opts)
    if kind == "fmp":
        from ingest.providers.fmp_provider import FmpProvider

        opts = _options(kind, rest, {**_HTTP_OPTIONS, "base_url": str})
        return FmpProvider(_key(kind, environ), **opts)
    if kind == "csv":
        if not rest.strip():
            raise ValueError("price provider csv needs a path: csv:/path/to/prices.csv")
        return CsvProvider(rest.strip())
    raise ValueError(f"unknown price provider {item.strip()!r} (known: {', '.join(KNOWN)})")


def real_chain_spec(environ: Mapping[str, str] | None = None) -> str:
    """'yfinance,yahooquery' plus ',polygon' / ',fmp' for each key that is set."""
    environ = os.environ if environ is None else environ
    items = ["yfinance", "yahooquery"]
    items += [k for k, var in KEY_ENV.items() if environ.get(var, "").strip()]
    return ",".join(items)


def provider_from_spec(spec: str, environ: Mapping[str, str] | None = None) -> PriceProvider:
    """'synthetic', 'yfinance', 'csv:/p.csv', 'yfinance,csv:/p.csv', 'real', ... -> provider."""
    environ = os.environ if environ is None else environ
    items = [i.strip() for i in (spec or "").split(",")]
    if not any(items):
        raise ValueError(f"empty price provider spec {spec!r} (known: {', '.join(KNOWN)})")
    if not all(items):
        raise ValueError(f"price provider spec {spec!r} has an empty item")
    expanded: list[str] = []
    for i in items:
        expanded += real_chain_spec(environ).split(",") if i.lower() == "real" else [i]
    providers = [_one(i, environ) for i in expanded]
    return providers[0] if len(providers) == 1 else ProviderChain(providers)
