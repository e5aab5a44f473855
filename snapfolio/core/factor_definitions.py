"""Factor definitions, read from the dbt seed so that SQL and Python share one source
(core: the price scope needs the factor ETFs and the longest window, the factors layer
the fits).

Seed columns: ``factor, method, regressors, window, min_obs, cap, alpha``.

* ``ols``: univariate OLS with intercept on one regressor (``SPY``).
* ``spread``: univariate OLS on the return difference of two regressors (``VUG-VTV``).
* ``ridge``: one multivariate ridge fit (sklearn ``StandardScaler`` + ``Ridge``) on
  space-separated regressors; the rows sharing the same regressors form one fit, and
  a row's position among them (seed order) is the coefficient it reports.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from snapfolio.core.dbt_project import DBT_PROJECT_DIR

SEED_PATH = DBT_PROJECT_DIR / "seeds" / "factor_definitions.csv"
METHODS = ("ols", "ridge", "spread")


@dataclass(frozen=True)
class FactorDefinition:
    """One output factor: how its beta is estimated for a (symbol, session)."""

    factor: str
    method: str
    regressors: tuple[str, ...]
    window: int
    min_obs: int
    cap: float
    alpha: float | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"{self.factor}: unknown method {self.method!r}")
        expected = {"ols": 1, "spread": 2}.get(self.method)
        if expected is not None and len(self.regressors) != expected:
            raise ValueError(f"{self.factor}: {self.method} needs {expected} regressor(s)")
        if self.method == "ridge" and (self.alpha is None or self.alpha < 0):
            raise ValueError(f"{self.factor}: ridge needs a non-negative alpha")
        if not 1 <= self.min_obs <= self.window:
            raise ValueError(f"{self.factor}: need 1 <= min_obs <= window")
        if self.cap <= 0:
            raise ValueError(f"{self.factor}: cap must be positive")


@dataclass(frozen=True)
class FitGroup:
    """Factors answered by one regression; ``outputs`` = (factor, coefficient index, cap)."""

    method: str
    regressors: tuple[str, ...]
    window: int
    min_obs: int
    alpha: float | None
    outputs: tuple[tuple[str, int, float], ...]


def _parse_regressors(method: str, text: str) -> tuple[str, ...]:
    if method == "spread":
        return tuple(part.strip() for part in text.split("-"))
    return tuple(text.split())


def load_definitions(path: str | Path | None = None) -> list[FactorDefinition]:
    """Read the seed CSV (default: ``dbt_project/seeds/factor_definitions.csv``)."""
    with open(path or SEED_PATH, newline="") as handle:
        rows = list(csv.DictReader(handle))
    definitions = []
    for row in rows:
        method = row["method"].strip()
        alpha = (row.get("alpha") or "").strip()
        definitions.append(
            FactorDefinition(
                factor=row["factor"].strip(),
                method=method,
                regressors=_parse_regressors(method, row["regressors"]),
                window=int(row["window"]),
                min_obs=int(row["min_obs"]),
                cap=float(row["cap"]),
                alpha=float(alpha) if alpha else None,
            )
        )
    names = [d.factor for d in definitions]
    if len(set(names)) != len(names):
        raise ValueError("duplicate factor names in factor definitions")
    fit_groups(definitions)  # validates ridge groups early
    return definitions


def fit_groups(definitions: list[FactorDefinition]) -> list[FitGroup]:
    """Group definitions into regressions; ridge rows with equal regressors share one fit.

    Grouping keeps a 6-regressor ridge a single solve per window instead of six.
    """
    keyed: dict[tuple, list[FactorDefinition]] = {}
    for d in definitions:
        key = (d.method, d.regressors, d.window, d.min_obs, d.alpha)
        if d.method != "ridge":
            key = (*key, d.factor)
        keyed.setdefault(key, []).append(d)
    groups = []
    for (method, regressors, window, min_obs, alpha, *_), members in keyed.items():
        if method == "ridge" and len(members) != len(regressors):
            raise ValueError(
                f"ridge on {' '.join(regressors)}: {len(members)} factor rows for "
                f"{len(regressors)} regressors (one row per coefficient, in regressor order)"
            )
        outputs = tuple((d.factor, i if method == "ridge" else 0, d.cap) for i, d in
                        enumerate(members))
        groups.append(FitGroup(method, regressors, window, min_obs, alpha, outputs))
    return groups


def factor_etfs(definitions: list[FactorDefinition] | None = None) -> list[str]:
    """Every regressor symbol, in first-appearance order (prices the batch must fetch)."""
    seen: dict[str, None] = {}
    for d in definitions if definitions is not None else load_definitions():
        seen.update(dict.fromkeys(d.regressors))
    return list(seen)


def lookback_sessions(definitions: list[FactorDefinition] | None = None) -> int:
    """Sessions of returns needed before a target session (the longest window minus one)."""
    defs = definitions if definitions is not None else load_definitions()
    return max(d.window for d in defs) - 1
