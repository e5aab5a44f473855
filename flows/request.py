"""What a caller asks the one batch flow to do: the scope is a parameter, never a
separate code path (schedule, CLI run, onboarding, admin, backfill)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path


@dataclass
class OnboardingRequest:
    csv_path: str
    name: str
    equity: Decimal | None = None
    replace: bool = False


@dataclass
class BatchRequest:
    kind: str = "daily"  # daily | onboarding | backfill
    as_of: date | None = None
    portfolios: list[str] | None = None
    retry_unavailable: bool = False
    onboardings: list[OnboardingRequest] = field(default_factory=list)
    chunk_sessions: int | None = None

    def scope(self) -> dict:
        names = [o.name for o in self.onboardings]
        return {"portfolios": self.portfolios or "all",
                "onboarding": (names[0] if len(names) == 1 else names) if names else None}

    def names_in_scope(self) -> list[str] | None:
        """Onboarded names when onboarding, else the requested ones (None: all active)."""
        if self.onboardings:
            return [o.name for o in self.onboardings]
        return self.portfolios


def absolute_path(value: str | Path) -> str:
    return str(Path(value).expanduser().resolve())
