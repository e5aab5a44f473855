"""Beta computation for the needed pairs: prices loaded in one query onto the NYSE
session grid, returns and betas from `factors.rolling`, and the result laid out as
binary COPY records (fixed-width, built with numpy: no per-row Python).

The adj_close (else close) prices of the needed symbols and of the factor ETFs over
[earliest needed session - lookback - 1, as_of] are read in ONE query and pivoted into
a (sessions x symbols) frame; returns come from ``returns_from_prices`` and betas from
``compute_betas`` restricted to the needed sessions, in blocks of symbols so that memory
stays bounded at any scale. Every requested (symbol, session, factor) gets a record: a
fitted beta (capped), its r² and n_obs, or beta NULL (sent as NaN) with the exact n_obs
of a window below the minimum.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa

from factors.rolling import compute_betas
from factors.run_stats import FactorRunStats
from snapfolio.core.copy import pg_days
from snapfolio.core.factor_definitions import FactorDefinition, factor_etfs
from snapfolio.core.sql import sql_text

BLOCK_CELLS = 60_000  # symbols x target sessions per compute block (~0.7M output rows)

# One fixed-width binary COPY record: 6 fields, each (int4 length, big-endian value).
# NULLs are sent as NaN (float8) and turned into NULL by the INSERT, so records never
# change size.
RECORD = np.dtype([
    ("nfields", ">i2"),
    ("l_sym", ">i4"), ("sym", ">i4"),
    ("l_day", ">i4"), ("day", ">i4"),
    ("l_fac", ">i4"), ("fac", ">i2"),
    ("l_beta", ">i4"), ("beta", ">f8"),
    ("l_r2", ">i4"), ("r2", ">f8"),
    ("l_n", ">i4"), ("n", ">i4"),
])



def session_grid(conn: sa.Connection, first: date, as_of: date, back: int) -> pd.Index:
    """Every NYSE session from ``back`` sessions before ``first`` through as_of."""
    days = conn.execute(
        sql_text(__file__, "session_grid"),
        {"first": first, "back": back, "as_of": as_of},
    ).scalars().all()
    return pd.Index(days, dtype=object, name="session")


def load_prices(conn: sa.Connection, symbols: list[str], sessions: pd.Index) -> pd.DataFrame:
    """One query: adj_close (else close) per (session, symbol); wide, on the full grid."""
    rows = conn.execute(
        sql_text(__file__, "load_prices"),
        {"s": symbols, "lo": sessions[0], "hi": sessions[-1]},
    ).all()
    # integer day numbers scattered into a preallocated grid: no per-row date objects
    # and no pandas pivot of ~0.5M rows
    names = list(dict.fromkeys(r[0] for r in rows))
    col = {s: i for i, s in enumerate(names)}
    grid = np.array(list(sessions), dtype="datetime64[D]").astype(np.int64)
    days = np.fromiter((r[1] for r in rows), np.int64, len(rows))
    at = np.searchsorted(grid, days)
    on_grid = (at < len(grid)) & (grid[np.minimum(at, len(grid) - 1)] == days)
    values = np.full((len(grid), len(names)), np.nan)
    cols = np.fromiter((col[r[0]] for r in rows), np.int64, len(rows))
    px = np.fromiter((np.nan if r[2] is None else r[2] for r in rows), np.float64, len(rows))
    values[at[on_grid], cols[on_grid]] = px[on_grid]
    return pd.DataFrame(values, index=sessions, columns=names)


def window_counts(returns: pd.DataFrame, d: FactorDefinition, symbols: list[str],
                   ends: np.ndarray) -> np.ndarray:
    """(len(symbols), len(ends)) usable-row counts of d's window: the symbol and every
    regressor have a return (same rule as ``compute_betas``)."""
    x_ok = np.ones(len(returns), dtype=bool)
    for reg in d.regressors:
        if reg in returns.columns:
            x_ok &= np.isfinite(returns[reg].to_numpy(dtype=np.float64))
        else:
            x_ok[:] = False
    y_ok = np.isfinite(returns[symbols].to_numpy(dtype=np.float64)) & x_ok[:, None]
    cs = np.vstack([np.zeros((1, len(symbols)), np.int64), np.cumsum(y_ok, axis=0)])
    lo = np.maximum(ends + 1 - d.window, 0)
    return (cs[ends + 1] - cs[lo]).T


def compute_records(
    returns: pd.DataFrame,
    definitions: list[FactorDefinition],
    all_symbols: list[str],
    pair_symbols: np.ndarray,
    pair_days: np.ndarray,
    block_cells: int,
    stats: FactorRunStats,
    factor_order: list[int],
) -> list[np.ndarray]:
    """Binary COPY records for every requested (symbol, session, factor), in symbol blocks.

    ``all_symbols`` must be in the database's sort order (the pairs query orders them)
    and ``factor_order`` lists the definitions' indexes in that order too.
    """
    if not len(pair_symbols):
        return []
    sym_code = {s: i for i, s in enumerate(all_symbols)}  # 0-based; SQL arrays are 1-based
    session_days = np.array(list(returns.index), dtype="datetime64[D]")
    day_pos = pd.Index(session_days)
    n_sessions = len(session_days)
    pair_sym = np.fromiter((sym_code[s] for s in pair_symbols), np.int64, len(pair_symbols))
    pair_pos = day_pos.get_indexer(pair_days)
    if (pair_pos < 0).any():
        raise RuntimeError("needed session outside the loaded session grid")
    grid_pg_days = pg_days(session_days)
    etf_cols = [c for c in factor_etfs(definitions) if c in returns.columns]

    block_syms = np.unique(pair_sym)
    per_symbol = np.bincount(pair_sym, minlength=len(all_symbols))[block_syms]
    records: list[np.ndarray] = []
    start = 0
    while start < len(block_syms):
        # grow the block until it holds ~block_cells requested pairs
        stop = start + max(1, int(np.searchsorted(np.cumsum(per_symbol[start:]), block_cells)))
        codes = block_syms[start:stop]
        start = stop
        in_block = np.isin(pair_sym, codes)
        b_sym, b_pos = pair_sym[in_block], pair_pos[in_block]
        names = [all_symbols[c] for c in codes]
        req_codes = b_sym * n_sessions + b_pos  # ascending: pairs come sorted
        order = np.argsort(req_codes, kind="stable")
        req_codes, b_sym, b_pos = req_codes[order], b_sym[order], b_pos[order]

        # sessions as grid positions: the output's as_of_date is then the position itself
        sub = returns[list(dict.fromkeys([*names, *etf_cols]))].set_axis(
            pd.RangeIndex(n_sessions), axis=0)
        bounds = np.searchsorted(b_sym, codes, side="left"), np.searchsorted(b_sym, codes, "right")
        targets = {all_symbols[c]: b_pos[lo:hi] for c, lo, hi in zip(codes, *bounds)}
        out = compute_betas(sub, definitions, target_sessions=targets)
        out_codes = np.empty(0, np.int64)
        if len(out):
            o_sym = codes[pd.Index(names).get_indexer(out["symbol"])]
            o_pos = out["as_of_date"].to_numpy().astype(np.int64)
            out_codes = o_sym * n_sessions + o_pos
        out_factor = out["factor"].to_numpy() if len(out) else np.empty(0, object)

        # local index of each pair's symbol among `names`, for the window counts
        local = np.searchsorted(codes, b_sym)
        # (pair, factor) records, pairs in (symbol, session) order and factors in the
        # database's sort order: rows arrive in primary-key order, so the index inserts
        # walk the btree forward instead of revisiting it once per factor
        rec = np.empty((len(req_codes), len(definitions)), dtype=RECORD)
        rec["nfields"] = 6
        rec["l_sym"], rec["l_day"], rec["l_fac"] = 4, 4, 2
        rec["l_beta"], rec["l_r2"], rec["l_n"] = 8, 8, 4
        rec["sym"] = (b_sym + 1)[:, None]
        rec["day"] = grid_pg_days[b_pos][:, None]
        for col, f_idx in enumerate(factor_order):
            d = definitions[f_idx]
            beta = np.full(len(req_codes), np.nan)
            r2 = np.full(len(req_codes), np.nan)
            n = window_counts(sub, d, names, np.arange(n_sessions))[local, b_pos]
            mine = out_factor == d.factor
            if mine.any():
                at = np.searchsorted(req_codes, out_codes[mine])
                if not np.array_equal(req_codes[at], out_codes[mine]):
                    raise RuntimeError("compute_betas returned an unrequested pair")
                beta[at] = out["beta"].to_numpy()[mine]
                r2[at] = out["r_squared"].to_numpy()[mine]
                n[at] = out["n_obs"].to_numpy()[mine]
            rec["fac"][:, col] = f_idx + 1
            rec["beta"][:, col], rec["r2"][:, col], rec["n"][:, col] = beta, r2, n
            stats.null_beta_rows += int(np.isnan(beta).sum())
        records.append(rec.ravel())
        stats.rows_written += rec.size
    return records




def factor_sort_order(conn: sa.Connection, factors: list[str]) -> list[int]:
    """The definitions' indexes in the database's sort order of the factor names, so
    records arrive in primary-key order."""
    return list(conn.execute(sql_text(__file__, "factor_sort_order"), {"f": factors}).scalars())
