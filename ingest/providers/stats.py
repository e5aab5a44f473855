"""What each provider did in a run, as a plain dict for the run's stats and summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ProviderStats:
    """Counters of one provider over a run (all its fetch / fetch_profiles calls).

    requests: HTTP requests sent (retries included); retries: requests repeated after a
    transient failure; rate_limited: HTTP 429 answers; throttled_waits / _seconds: waits
    imposed by the request budget or a Retry-After header; failures: calls that failed
    wholesale (ProviderError); skipped: why the provider is off for the rest of the run
    (bad key / plan), else None; symbols_served / symbols_missing / profiles_served:
    distinct symbols it returned rows for / had no data for / returned a profile for.
    """

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    throttled_waits: int = 0
    throttled_seconds: float = 0.0
    failures: int = 0
    skipped: str | None = None
    served: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    profiles: set[str] = field(default_factory=set)

    def throttled(self, seconds: float) -> None:
        if seconds > 0:
            self.throttled_waits += 1
            self.throttled_seconds += seconds

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "throttled_waits": self.throttled_waits,
            "throttled_seconds": round(self.throttled_seconds, 3),
            "failures": self.failures,
            "skipped": self.skipped,
            "symbols_served": len(self.served),
            "symbols_missing": len(self.missing - self.served),
            "profiles_served": len(self.profiles),
        }


def provider_stats(provider: object) -> dict[str, dict[str, Any]]:
    """{provider name: counters} for a chain or a single provider (empty when it keeps none)."""
    stats = getattr(provider, "stats", None)
    if callable(stats):  # a ProviderChain
        return stats()
    if isinstance(stats, ProviderStats):
        return {provider.name: stats.as_dict()}  # type: ignore[attr-defined]
    return {}


def served_summary(stats: dict[str, dict[str, Any]]) -> str:
    """'yfinance 0, yahooquery 12, polygon 3 (skipped: HTTP 401 ...)' for the run summary."""
    parts = []
    for name, s in stats.items():
        text = f"{name} {s.get('symbols_served', 0)}"
        if s.get("skipped"):
            text += f" (skipped: {s['skipped']})"
        elif s.get("failures"):
            text += f" ({s['failures']} failed call(s))"
        parts.append(text)
    return ", ".join(parts)
