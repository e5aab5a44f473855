"""The data-quality checks of the post-run gate: names, SQL and severities.

Each check is one named SQL file under `sql/` that returns the offending rows (empty =
pass), with an `n` column (how many underlying rows are wrong) and a `detail` sentence
naming the portfolio, position, symbol or run. Keeping the SQL in files, not in
Python strings, makes it readable in review and copy-pasteable into psql (after
replacing `{batch}` with a scope query).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml

Severity = Literal["error", "warning"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning")
SEVERITY_ENV = "SNAPFOLIO_CHECK_SEVERITY"
SEVERITY_FILE = Path(__file__).resolve().parent / "severity.yml"
SQL_DIR = Path(__file__).resolve().parent / "sql"


@dataclass(frozen=True)
class Check:
    name: str
    suite: str  # the GX expectation suite it belongs to
    description: str
    # True: the SQL only gathers data, and the check's Python side (python_checks.py,
    # a GX expectation too) computes the offending rows: for what SQL cannot (eigenvalues)
    python: bool = False

    @property
    def sql(self) -> str:
        return load_sql(self.name)


MARTS_SUITE = "snapfolio_marts"
RAW_SUITE = "snapfolio_raw"

CHECKS: tuple[Check, ...] = (
    Check(
        "no_portfolio_lags",
        MARTS_SUITE,
        "Every active portfolio in scope has a complete (or final: incomplete only for closes "
        "the providers were already asked for and did not have) snapshot for every session "
        "from its first entry through the last session <= as_of (read live, not from a "
        "watermark).",
    ),
    Check(
        "every_position_has_exposures",
        MARTS_SUITE,
        "Every open position on every session of the run has an exposure row per factor, "
        "with a beta or an 'unavailable'/'insufficient_history' status and a reason.",
    ),
    Check(
        "snapshots_unique_and_dense",
        MARTS_SUITE,
        "One snapshot per portfolio and NYSE session, none missing between a portfolio's "
        "first and last snapshot.",
    ),
    Check(
        "equity_identity",
        MARTS_SUITE,
        "equity = initial_equity + cumulative_pnl and cash = equity - net_exposure, "
        "within 1e-6 relative.",
    ),
    Check(
        "every_snapshot_has_risk",
        MARTS_SUITE,
        "Every snapshot in scope has its row in marts.fct_portfolio_risk.",
    ),
    Check(
        "every_open_position_has_position_risk",
        MARTS_SUITE,
        "Every position open on a session in scope (raw.positions: entry <= d < effective "
        "exit) has its row in marts.fct_position_risk.",
    ),
    Check(
        "sector_gross_equals_snapshot_gross",
        MARTS_SUITE,
        "The sector gross exposures of a snapshot sum to its gross_exposure, within 1e-6 "
        "relative.",
    ),
    Check(
        "risk_contributions_sum_to_one",
        MARTS_SUITE,
        "Where holdings_vol_63d is defined and > 0, the positions' risk contributions sum to "
        "1 within 1e-6, none null.",
    ),
    Check(
        "risk_numbers_in_range",
        MARTS_SUITE,
        "Volatilities >= 0 and finite; 0 < hhi <= 10000; top_3_weight <= top_10_weight <= 1; "
        "var_95_1d <= cvar_95_1d; max_drawdown <= drawdown <= 0.",
    ),
    Check(
        "every_active_scenario_has_a_result",
        MARTS_SUITE,
        "Every active stress scenario has a row in marts.fct_portfolio_stress_results on "
        "every snapshot in scope.",
    ),
    Check(
        "correlations_within_bounds",
        MARTS_SUITE,
        "Pairwise correlations within [-1, 1] with n_obs >= 30; avg_pairwise_correlation "
        "within [-1, 1].",
    ),
    Check(
        "factor_covariance_psd",
        MARTS_SUITE,
        "Each session's 8 x 8 factor covariance is complete, finite, symmetric (1e-12 "
        "relative) and positive semi-definite (smallest eigenvalue >= -1e-12; numpy).",
        python=True,
    ),
    Check(
        "prices_positive",
        RAW_SUITE,
        "raw.prices close > 0 and adj_close > 0 when present (finite).",
    ),
    Check(
        "no_stuck_runs",
        RAW_SUITE,
        "No raw.batch_runs row other than the current run is still 'running'.",
    ),
)
CHECK_NAMES: tuple[str, ...] = tuple(c.name for c in CHECKS)


@cache
def load_sql(name: str) -> str:
    """The check's SQL; it must join something so GX hands `{batch}` over unaliased.

    GX 1.x renders `{batch}` as `(subquery)` when the query contains a JOIN and as
    `(subquery) AS subselect` otherwise; every check aliases it itself (`as run_scope`),
    which PostgreSQL 15 requires, so a check without a JOIN would break at run time.
    """
    sql = (SQL_DIR / f"{name}.sql").read_text()
    if "{batch} as run_scope" not in sql or not re.search(r"\bjoin\b", sql, re.IGNORECASE):
        raise ValueError(f"expectations/sql/{name}.sql must select from {{batch}} as run_scope "
                         "and contain a JOIN")
    return sql


def load_severities(path: Path | None = None, env: str | None = None) -> dict[str, Severity]:
    """Severity per check: severity.yml, then SNAPFOLIO_CHECK_SEVERITY overrides.

    A typo (unknown check or level) raises instead of silently defaulting: a gate that
    quietly downgrades an error to nothing is worse than one that refuses to start.
    """
    path = path or SEVERITY_FILE
    loaded = yaml.safe_load(path.read_text()) if path.exists() else None
    severities: dict[str, Severity] = {name: "error" for name in CHECK_NAMES}
    for name, level in (loaded or {}).items():
        severities[_check_name(name, str(path))] = _level(level, f"{path}: {name}")
    env = os.environ.get(SEVERITY_ENV, "") if env is None else env
    for item in filter(None, (part.strip() for part in env.split(","))):
        name, sep, level = item.partition("=")
        if not sep:
            raise ValueError(f"{SEVERITY_ENV}: expected check=error|warning, got {item!r}")
        severities[_check_name(name.strip(), SEVERITY_ENV)] = _level(level.strip(), item)
    return severities


def _check_name(name: str, where: str) -> str:
    if name not in CHECK_NAMES:
        raise ValueError(f"{where}: unknown check {name!r} (known: {', '.join(CHECK_NAMES)})")
    return name


def _level(level: object, where: str) -> Severity:
    if level not in SEVERITIES:
        raise ValueError(f"{where}: severity must be 'error' or 'warning', got {level!r}")
    return level  # type: ignore[return-value]
