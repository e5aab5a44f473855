"""Runtime settings, read once from the environment.

Every knob is an env var so that the CLI, Prefect deployments and dbt (via profiles.yml)
see the same configuration without a config file to keep in sync. Every `SNAPFOLIO_*`
value is parsed and range-checked here, at start, so a bad setting is one error naming
the variable (exit 2) before anything is written, never a failure deep inside a run.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from snapfolio.core.dbt_project import DBT_PROJECT_DIR

# ~60 sessions of the 1,000 x 20 benchmark book (20,000 positions x 13 rows a session);
# a 13-position portfolio's year is ~43,000 rows: one chunk
DEFAULT_CHUNK_ROWS = 15_000_000


class SettingsError(ValueError):
    """A SNAPFOLIO_* environment variable with a value snapfolio cannot use."""


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str | None
    price_provider: str
    unavailable_cooloff_hours: float
    max_daily_move: float
    chunk_sessions: int | None  # optional cap on a chunk's sessions (unset: rows decide)
    chunk_rows: int  # a dbt chunk's row budget (DESIGN "The batch flow")

    @property
    def project_root(self) -> Path:
        return Path(__file__).resolve().parents[2]

    @property
    def dbt_project_dir(self) -> Path:
        return DBT_PROJECT_DIR

    @property
    def inbox(self) -> Path:
        """The only directory the Prefect onboarding deployment reads CSVs from."""
        value = os.environ.get("SNAPFOLIO_INBOX")
        return (Path(value).expanduser() if value else self.home / "inbox").resolve()


def _number(name: str, default: str, *, integer: bool = False, minimum: float,
            maximum: float = math.inf, strictly: bool = False) -> float:
    raw = os.environ.get(name, default).strip()
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise SettingsError(f"{name}: expected {kind}, got {raw!r}") from None
    low_ok = value > minimum if strictly else value >= minimum
    if not (math.isfinite(value) and low_ok and value <= maximum):
        bound = f"> {minimum:g}" if strictly else f">= {minimum:g}"
        raise SettingsError(f"{name}: expected a value {bound}"
                            + (f" and <= {maximum:g}" if math.isfinite(maximum) else "")
                            + f", got {raw!r}")
    return value


def load_settings() -> Settings:
    home = Path(os.environ.get("SNAPFOLIO_HOME", ".snapfolio")).expanduser().resolve()
    provider = os.environ.get("SNAPFOLIO_PRICE_PROVIDER", "synthetic").strip()
    if not provider:
        raise SettingsError("SNAPFOLIO_PRICE_PROVIDER: must not be empty")
    return Settings(
        home=home,
        database_url=os.environ.get("SNAPFOLIO_DATABASE_URL") or None,
        price_provider=provider,
        unavailable_cooloff_hours=_number("SNAPFOLIO_UNAVAILABLE_COOLOFF_HOURS", "24",
                                          minimum=0, maximum=24 * 3650),
        max_daily_move=_number("SNAPFOLIO_MAX_DAILY_MOVE", "10", minimum=1, strictly=True),
        chunk_sessions=(int(_number("SNAPFOLIO_CHUNK_SESSIONS", "", integer=True,
                                    minimum=1, maximum=100_000))
                        if os.environ.get("SNAPFOLIO_CHUNK_SESSIONS", "").strip() else None),
        chunk_rows=int(_number("SNAPFOLIO_CHUNK_ROWS", str(DEFAULT_CHUNK_ROWS), integer=True,
                               minimum=1_000, maximum=10**10)),
    )
