"""The risk computations of one run: every (portfolio, session) of raw.risk_work at
once — return statistics, HAR forecasts, the holdings back-cast and position risk,
correlations, factor covariances and the stress scenarios' implied factor moves — then
written in bulk. No loop over portfolios, sessions, positions or pairs here: each step
is one vectorized call over the whole work set.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import sqlalchemy as sa

from risk import correlations, factor_covariance, har, holdings, return_stats, stress
from risk._common import Laps
from risk.inputs import load_inputs, write_work
from risk.store import write_results
from snapfolio.core.dbt_project import dbt_var

KEY = ["portfolio_id", "snapshot_date"]


def prepare_work(conn: sa.Connection, build_id: str, portfolio_ids: list[int],
                 as_of: date) -> int:
    """Write this run's risk work set (its rows of raw.risk_work, under `build_id`);
    returns its size."""
    exists = conn.execute(sa.text("select to_regclass('marts.fct_portfolio_risk')")).scalar()
    return write_work(conn, build_id, portfolio_ids, as_of, exists is not None)


def compute_and_store(conn: sa.Connection, as_of: date, build_id: str) -> dict:
    """Compute every risk number of the work set of `build_id` and store it; returns the
    phase stats."""
    lap = Laps()
    timings = lap.timings
    inputs = load_inputs(conn, as_of, build_id, lap)
    if inputs is None:
        return {"sessions": 0, "timings": timings}
    keys = inputs.targets[KEY]
    stats = return_stats.portfolio_return_stats(inputs.portfolio_returns, keys)
    lap("return_stats")
    forecasts = har.har_forecasts(inputs.portfolio_returns, keys)
    lap("har")
    book, position_rows = holdings.holdings_risk(inputs.positions, inputs.targets,
                                                 inputs.symbol_returns)
    lap("holdings")
    summary, pairs = correlations.correlations(inputs.positions, keys, inputs.symbol_returns,
                                               matrix_targets=inputs.matrix_targets[KEY])
    lap("correlations")
    days = np.unique(inputs.targets["snapshot_date"].to_numpy(np.int64))
    covariances = factor_covariance.factor_covariances(inputs.etf_returns, days)
    cov = factor_covariance.matrices_from_frame(covariances, days)
    scenario_ids, shocks = stress.applied_shocks(
        inputs.scenarios, duration=float(dbt_var("tlt_duration_years")))
    moves = stress.implied_moves(cov, shocks)
    lap("covariance_and_stress")
    portfolio_rows = (keys.merge(stats, on=KEY, how="left").merge(forecasts, on=KEY, how="left")
                      .merge(book, on=KEY, how="left").merge(summary, on=KEY, how="left"))
    written = write_results(conn, build_id, portfolio_rows, position_rows, covariances, moves,
                            days, scenario_ids, pairs,
                            sorted(int(p) for p in inputs.matrix_targets["portfolio_id"]), lap)
    return {"sessions": len(keys), "portfolios": int(keys["portfolio_id"].nunique()),
            "positions": len(position_rows), "rows": written, "timings": timings}


