"""Values the dbt project owns and Python reads too (dbt_project.yml `vars:`), so a
rule such as the stale-price window has exactly one definition."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"


@cache
def dbt_vars() -> dict[str, Any]:
    config = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    return dict(config.get("vars") or {})


def dbt_var(name: str) -> Any:
    """A var of dbt_project.yml; a missing one is a programming error, never defaulted."""
    try:
        return dbt_vars()[name]
    except KeyError:
        raise KeyError(f"dbt_project.yml defines no var {name!r}") from None


def stale_price_sessions() -> int:
    """Sessions a last close stays usable (`price_source = stale`) before `entry`."""
    return int(dbt_var("stale_price_sessions"))
