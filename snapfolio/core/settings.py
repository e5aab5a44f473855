"""Runtime settings, read once from the environment.

Every knob is an env var so that the CLI, Prefect deployments and dbt (via profiles.yml)
see the same configuration without a config file to keep in sync.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from snapfolio.core.dbt_project import DBT_PROJECT_DIR


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str | None
    price_provider: str
    unavailable_cooloff_hours: float
    max_daily_move: float
    chunk_sessions: int

    @property
    def project_root(self) -> Path:
        return Path(__file__).resolve().parents[2]

    @property
    def dbt_project_dir(self) -> Path:
        return DBT_PROJECT_DIR


def load_settings() -> Settings:
    home = Path(os.environ.get("SNAPFOLIO_HOME", ".snapfolio")).expanduser().resolve()
    return Settings(
        home=home,
        database_url=os.environ.get("SNAPFOLIO_DATABASE_URL") or None,
        price_provider=os.environ.get("SNAPFOLIO_PRICE_PROVIDER", "synthetic"),
        unavailable_cooloff_hours=float(os.environ.get("SNAPFOLIO_UNAVAILABLE_COOLOFF_HOURS", "24")),
        max_daily_move=float(os.environ.get("SNAPFOLIO_MAX_DAILY_MOVE", "10")),
        chunk_sessions=int(os.environ.get("SNAPFOLIO_CHUNK_SESSIONS", "60")),
    )
