"""Symbol profiles (name, GICS sector, industry, ETF flag) as the providers report them.

Optional per provider: one that can, has `fetch_profiles(symbols) -> ProfileResult`.
The chain asks providers in order for the symbols still without a complete profile
(an ETF, or a sector); csv: and synthetic supply none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ingest.providers.sectors import UnknownSectorError, gics_sector


@dataclass(frozen=True)
class SymbolProfile:
    symbol: str
    name: str | None
    sector: str | None  # one of sectors.GICS_SECTORS, or None
    industry: str | None
    is_etf: bool
    source: str

    @property
    def complete(self) -> bool:
        """Enough to classify a position: an ETF, or a stock with a sector."""
        return self.is_etf or self.sector is not None


@dataclass
class ProfileResult:
    """Profiles found plus, for symbols without one, why (every provider's reason)."""

    profiles: dict[str, SymbolProfile] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    requests: int = 0


@runtime_checkable
class ProfileProvider(Protocol):
    name: str

    def fetch_profiles(self, symbols: list[str]) -> ProfileResult: ...


def profiles_from(provider: object, symbols: list[str]) -> ProfileResult:
    """Profiles from a chain or a single provider; never raises (failures become reasons).

    A provider without `fetch_profiles` (csv:, synthetic) gives every symbol the reason
    "<name> supplies no profiles".
    """
    name = getattr(provider, "name", type(provider).__name__)
    fetch = getattr(provider, "fetch_profiles", None)
    if fetch is None:
        return ProfileResult(missing=dict.fromkeys(symbols, f"{name} supplies no profiles"))
    try:
        return fetch(list(symbols))
    except Exception as exc:  # noqa: BLE001 - a profile failure never stops the run
        why = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        return ProfileResult(missing=dict.fromkeys(symbols, f"{name}: {why}"))


def _text(value: object) -> str | None:
    if value is None:
        return None
    s = " ".join(str(value).split())
    return s or None


def make_profile(symbol: str, source: str, *, name: object, sector: object, industry: object,
                 is_etf: bool) -> SymbolProfile:
    """A provider's fields -> SymbolProfile with the sector mapped to GICS.

    An unknown sector name raises UnknownSectorError (the caller rejects that provider's
    profile for the symbol with the reason), except for an ETF, whose sector is not used
    (a position in an ETF is classified `ETF`) and is then dropped.
    """
    raw = _text(sector)
    mapped: str | None = None
    if raw is not None:
        try:
            mapped = gics_sector(raw)
        except UnknownSectorError:
            if not is_etf:
                raise
    return SymbolProfile(symbol=symbol, name=_text(name), sector=mapped,
                         industry=_text(industry), is_etf=bool(is_etf), source=source)
