"""What the risk computations read, in bulk: the run's risk work set, the portfolios'
returns, the open positions and equity of every work session, symbol and factor-ETF
returns on the NYSE session grid, and the stress scenario seed.

Every session axis is the full NYSE grid labelled by day numbers (days since
1970-01-01), so a window is a slice and no date objects are built per row. Large reads
go through `copy (select ...) to stdout` into pandas.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa

from factors.compute import load_prices
from factors.rolling import returns_from_prices
from risk._common import Laps
from snapfolio.core import calendar
from snapfolio.core.copy import copy_out_frame
from snapfolio.core.sql import load_sql, sql_text

PORTFOLIO_LOOKBACK = 252 + 21 + 22  # HAR: the fit window ends h sessions before d
SYMBOL_LOOKBACK = 90  # correlations (holdings and position vol need 63)
FACTOR_LOOKBACK = 252  # EWMA factor covariance
ETFS = ("SPY", "TLT", "VTV", "VUG", "MTUM", "QUAL", "IWM", "USMV")  # DESIGN's order


def day_numbers(days: np.ndarray) -> np.ndarray:
    return np.asarray(days).astype("datetime64[D]").astype(np.int64)


def write_work(conn: sa.Connection, build_id: str, portfolio_ids: list[int], as_of: date,
               risk_marts_exist: bool) -> int:
    """Write this risk phase's (portfolio, session) risk work: its own rows of
    raw.risk_work, under its build id (another risk phase's rows are never touched;
    `drop_work` deletes them after the phase)."""
    name = "risk_work" if risk_marts_exist else "risk_work_first_build"
    n = conn.execute(sql_text(__file__, name),
                     {"build_id": build_id, "ids": portfolio_ids, "as_of": as_of}).rowcount
    # its size for the planner: every later statement (the reads, the stores, the risk
    # marts and their row-scoped tests) joins it against tables of the whole history,
    # and a stale estimate turns index probes into full scans
    conn.execute(sa.text("analyze raw.risk_work"))
    return n


def drop_work(conn: sa.Connection, build_id: str) -> None:
    """The risk phase is done with its work set (the rows of a phase that died are
    dropped with its build scope row, flows/dbt_runner.drop_dead_build_scopes)."""
    conn.execute(sa.text("delete from raw.risk_work where build_id = :b"), {"b": build_id})


@dataclass
class RiskInputs:
    targets: pd.DataFrame  # portfolio_id, snapshot_date (day number), equity
    portfolio_returns: pd.DataFrame  # sessions (day numbers) x portfolio ids
    positions: pd.DataFrame  # portfolio_id, snapshot_date, position_id, risk_symbol, market_value, available
    symbol_returns: pd.DataFrame  # sessions x risk symbols (unavailable ones left out)
    etf_returns: pd.DataFrame  # sessions x the 8 factor ETFs
    matrix_targets: pd.DataFrame  # portfolio_id, snapshot_date: latest sessions
    scenarios: pd.DataFrame  # scenario_id, factor, shock, active


def _grid(lo: date, hi: date) -> np.ndarray:
    return day_numbers(calendar.sessions_array(lo, hi))


def returns_on_grid(conn: sa.Connection, symbols: list[str], lo: date, hi: date) -> pd.DataFrame:
    """adj_close returns (factors' rule: no forward fill) on the grid [lo, hi]; the
    session before lo is loaded too so that lo has its return."""
    first = calendar.sessions_back_clipped(lo, 1)
    sessions = pd.Index(list(calendar.sessions_array(first, hi).astype(object)), dtype=object)
    prices = load_prices(conn, symbols, sessions) if symbols else pd.DataFrame(index=sessions)
    returns = returns_from_prices(prices) if len(prices.columns) else prices
    returns.index = day_numbers(np.array(list(returns.index), dtype="datetime64[D]"))
    return returns.iloc[1:]


def load_inputs(conn: sa.Connection, as_of: date, build_id: str,
                lap: Laps | None = None) -> RiskInputs | None:
    """Everything the risk work set (the rows of `build_id` in raw.risk_work) needs
    (None when it is empty); ``lap`` times each read."""
    lap = lap or Laps()
    work = {"build_id": build_id}
    targets = copy_out_frame(conn, load_sql(__file__, "target_equity"), work)
    lap("load_targets")
    if targets.empty:
        return None
    targets = targets.rename(columns={"day_number": "snapshot_date"})
    first = pd.Timestamp(int(targets["snapshot_date"].min()), unit="D").date()
    lo = calendar.sessions_back_clipped(first, PORTFOLIO_LOOKBACK)
    grid = _grid(lo, as_of)
    # each portfolio from its own first work session's lookback: a portfolio restated far
    # back does not make the others read its history
    firsts = targets.groupby("portfolio_id")["snapshot_date"].min()
    starts = grid[np.maximum(np.searchsorted(grid, firsts.to_numpy(np.int64)) - PORTFOLIO_LOOKBACK, 0)]
    rets = copy_out_frame(conn, load_sql(__file__, "portfolio_returns"),
                          {"ids": firsts.index.astype(int).tolist(),
                           "lo_days": starts.astype(int).tolist(), "hi": as_of})
    portfolio_returns = (rets.pivot(index="day_number", columns="portfolio_id",
                                    values="daily_return")
                         .reindex(index=grid, columns=sorted(targets["portfolio_id"].unique())))
    lap("load_portfolio_returns")
    positions = copy_out_frame(conn, load_sql(__file__, "open_positions"), work).rename(
        columns={"day_number": "snapshot_date"})
    positions["available"] = positions["available"].astype(bool)
    lap("load_positions")
    symbols = sorted(positions.loc[positions["available"], "risk_symbol"].unique())
    symbol_lo = calendar.sessions_back_clipped(first, SYMBOL_LOOKBACK)
    symbol_returns = returns_on_grid(conn, symbols, symbol_lo, as_of).reindex(columns=symbols)
    lap("load_symbol_returns")
    etf_returns = returns_on_grid(conn, list(ETFS), calendar.sessions_back_clipped(first, FACTOR_LOOKBACK),
                                   as_of).reindex(columns=list(ETFS))
    lap("load_etf_returns")
    matrix_targets = copy_out_frame(conn, load_sql(__file__, "latest_sessions"), work).rename(
        columns={"day_number": "snapshot_date"})
    scenarios = pd.DataFrame(conn.execute(sql_text(__file__, "stress_scenarios")).all(),
                             columns=["scenario_id", "factor", "shock", "active"])
    lap("load_latest_and_scenarios")
    return RiskInputs(targets, portfolio_returns, positions, symbol_returns, etf_returns,
                      matrix_targets, scenarios)
