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


def inbox_file(csv_path: str, inbox: Path) -> str:
    """A deployment run (the Prefect UI's onboarding) may read CSVs only from the inbox
    (SNAPFOLIO_INBOX, default $SNAPFOLIO_HOME/inbox): anything else is refused by name,
    before it is opened, so a UI user cannot make the server read (and echo) other files."""
    from ingest.input_limits import InputError

    path = Path(csv_path).expanduser()
    resolved = (inbox / path if not path.is_absolute() else path).resolve()
    if not resolved.is_relative_to(inbox.resolve()):
        raise InputError(f"csv_path {str(csv_path)!r} is outside the onboarding inbox "
                         f"{inbox} (SNAPFOLIO_INBOX): copy the file there")
    if not resolved.is_file():
        raise InputError(f"csv_path {str(csv_path)!r}: no such file in the inbox {inbox}")
    return str(resolved)
