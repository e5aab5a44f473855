"""Risk results into raw tables: binary COPY into temp tables (numpy-built records, no
per-row Python), then one replace per table for the work sessions, in the caller's
transaction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from risk._common import Laps
from snapfolio.core.copy import binary_records, copy_in
from snapfolio.core.sql import run_script

FACTORS = ("market_beta", "ir_beta", "value", "growth", "momentum", "quality", "size", "low_vol")
PORTFOLIO_STATS = ["realized_vol_21d", "realized_vol_63d", "har_vol_1d", "har_vol_21d",
                   "holdings_vol_63d", "var_95_1d", "cvar_95_1d", "avg_pairwise_correlation",
                   "correlation_effective_positions"]


def _floats(frame: pd.DataFrame, columns: list[str]) -> list[tuple[str, np.ndarray]]:
    return [("float8", frame[c].to_numpy(dtype=np.float64, na_value=np.nan)) for c in columns]


def _copy(conn: sa.Connection, table: str, columns: list[tuple[str, np.ndarray]]) -> None:
    if len(columns[0][1]):
        copy_in(conn, f"copy {table} from stdin (format binary)",
                records=[binary_records(columns)])


def write_results(conn: sa.Connection, build_id: str, portfolio_rows: pd.DataFrame,
                  position_rows: pd.DataFrame,
                  covariances: pd.DataFrame, moves: np.ndarray, move_days: np.ndarray,
                  scenario_ids: list[str], pairs: pd.DataFrame,
                  matrix_portfolios: list[int], lap: Laps | None = None) -> dict[str, int]:
    """Replace the stored risk rows of the work sessions; returns rows written per table
    (``lap`` times the COPY and each replace)."""
    lap = lap or Laps()
    run_script(conn, __file__, "create_incoming_risk")
    _copy(conn, "incoming_portfolio_risk", [
        ("int8", portfolio_rows["portfolio_id"].to_numpy(np.int64)),
        ("date", portfolio_rows["snapshot_date"].to_numpy(np.int64)),
        *_floats(portfolio_rows, PORTFOLIO_STATS)])
    _copy(conn, "incoming_position_risk", [
        ("int8", position_rows["portfolio_id"].to_numpy(np.int64)),
        ("date", position_rows["snapshot_date"].to_numpy(np.int64)),
        ("int8", position_rows["position_id"].to_numpy(np.int64)),
        *_floats(position_rows, ["realized_vol_63d", "risk_contribution"])])
    defined = covariances[np.isfinite(covariances["covariance"].to_numpy(dtype=np.float64))]
    code = {f: i + 1 for i, f in enumerate(FACTORS)}
    _copy(conn, "incoming_factor_covariances", [
        ("date", defined["as_of_date"].to_numpy(np.int64)),
        ("int2", defined["factor_a"].map(code).to_numpy(np.int16)),
        ("int2", defined["factor_b"].map(code).to_numpy(np.int16)),
        *_floats(defined, ["covariance", "correlation"])])
    n_days, n_scen, n_fac = moves.shape
    day_idx, scen_idx, fac_idx = np.meshgrid(np.arange(n_days), np.arange(n_scen),
                                             np.arange(n_fac), indexing="ij")
    _copy(conn, "incoming_stress_moves", [
        ("date", np.asarray(move_days, dtype=np.int64)[day_idx.ravel()]),
        ("int2", (scen_idx.ravel() + 1).astype(np.int16)),
        ("int2", (fac_idx.ravel() + 1).astype(np.int16)),
        ("float8", moves.reshape(-1))])
    lap("store_copy")
    run_script(conn, __file__, "store_portfolio_risk", {"build_id": build_id})
    lap("store_portfolio_and_position_risk")
    run_script(conn, __file__, "store_factor_risk",
               {"factors": list(FACTORS), "scenarios": list(scenario_ids)})
    lap("store_factor_risk")
    _write_pairs(conn, pairs, matrix_portfolios)
    lap("store_correlation_pairs")
    return {"portfolio_risk_stats": len(portfolio_rows), "position_risk_stats": len(position_rows),
            "factor_covariances": len(defined), "stress_factor_moves": int(moves.size),
            "position_correlations": len(pairs)}


def _write_pairs(conn: sa.Connection, pairs: pd.DataFrame, portfolio_ids: list[int]) -> None:
    """The latest session's full matrix per portfolio (small: tens of pairs each)."""
    if portfolio_ids:
        conn.execute(sa.text("delete from raw.position_correlations "
                             "where portfolio_id = any(:ids)"), {"ids": portfolio_ids})
    if pairs.empty:
        return
    days = pairs["as_of_date"].to_numpy(np.int64).astype("datetime64[D]").astype(object)
    copy_in(conn, "copy raw.position_correlations (portfolio_id, as_of_date, symbol_a, symbol_b, "
            "correlation, n_obs) from stdin (format binary)",
            rows=zip(pairs["portfolio_id"].astype(int).tolist(), days.tolist(),
                     pairs["symbol_a"].tolist(), pairs["symbol_b"].tolist(),
                     pairs["correlation"].astype(float).tolist(),
                     pairs["n_obs"].astype(int).tolist(), strict=True),
            types=["int8", "date", "text", "text", "float8", "int4"])
