"""The factors phase: compute and store the betas the portfolios in scope still need.

Needs (factors.needs) -> compute (factors.compute) -> write (factors.beta_store), in one
transaction under a transaction-level advisory lock: two runs never fit the same pairs
twice, and a price write that invalidates betas takes it too, so a coverage mark never
covers rows deleted meanwhile. A symbol with no price at all (unavailable) gets no row:
it stays "needed" (its pairs are counted in ``pairs_needed`` each run, at the cost of
one indexed query) and dbt reports its positions as ``unavailable`` with the symbol's
reason; once prices arrive its betas are computed by the next run. Betas written for
sessions the snapshot mart already covers mark a restatement (ingest.restatements).
"""

from __future__ import annotations

import time
from datetime import date

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from factors import beta_store, compute, needs
from factors.rolling import returns_from_prices
from factors.run_stats import FactorRunStats, Lap
from ingest import restatements
from snapfolio.core.factor_definitions import (
    FactorDefinition,
    factor_etfs,
    load_definitions,
    lookback_sessions,
)
from snapfolio.core.locks import FACTORS_LOCK_KEY, xact_lock


def compute_factor_betas(
    engine: Engine,
    portfolio_ids: list[int],
    as_of: date,
    *,
    definitions: list[FactorDefinition] | None = None,
    block_cells: int = compute.BLOCK_CELLS,
) -> FactorRunStats:
    """Compute and store every missing (symbol, session, factor) beta the portfolios need."""
    started = time.perf_counter()
    stats = FactorRunStats()
    definitions = definitions if definitions is not None else load_definitions()
    factors = [d.factor for d in definitions]
    lap = Lap(stats.timings)

    with engine.begin() as conn:
        xact_lock(conn, FACTORS_LOCK_KEY)
        spans = needs.held_spans(conn, portfolio_ids, as_of, factors)
        pairs = needs.needed_pairs(conn, spans, factors)
        lap("pairs")
        unavailable = _write_missing_betas(conn, pairs, definitions, as_of, block_cells,
                                           stats, lap)
        beta_store.mark_coverage(conn, spans, unavailable, factors)
        lap("coverage")
    lap("commit")
    stats.elapsed = round(time.perf_counter() - started, 3)
    return stats


def _write_missing_betas(conn: sa.Connection, pairs: list, definitions: list[FactorDefinition],
                         as_of: date, block_cells: int, stats: FactorRunStats,
                         lap: Lap) -> set[str]:
    """Fit and write the betas of the needed (symbol, day, rows held) pairs; returns the
    symbols without any price (no rows written for them)."""
    stats.pairs_needed = len(pairs)
    if not pairs:
        return set()
    factors = [d.factor for d in definitions]
    pair_symbols = np.array([p[0] for p in pairs], dtype=object)
    pair_days = np.array([p[1] for p in pairs], dtype=np.int64).astype("datetime64[D]")
    partial = np.array([p[2] > 0 for p in pairs], dtype=bool)
    symbols = list(dict.fromkeys(pair_symbols))  # sorted (query order)
    stats.symbols = len(symbols)

    unavailable = needs.unpriced(conn, symbols)
    stats.unavailable_symbols = sorted(unavailable)
    if unavailable:
        keep = ~np.isin(pair_symbols, list(unavailable))
        stats.unavailable_pairs = int((~keep).sum())
        pair_symbols, pair_days, partial = pair_symbols[keep], pair_days[keep], partial[keep]
    if not len(pair_symbols):
        return unavailable

    sessions = compute.session_grid(conn, pair_days.min().astype(object), as_of,
                                    lookback_sessions(definitions) + 1)
    priced = list(dict.fromkeys(pair_symbols))
    prices = compute.load_prices(conn, list(dict.fromkeys([*priced, *factor_etfs(definitions)])),
                                 sessions)
    lap("load")
    returns = returns_from_prices(prices)
    # a symbol with prices outside the range only: all-missing column (n_obs 0 rows)
    for sym in priced:
        if sym not in returns.columns:
            returns[sym] = np.nan
    records = compute.compute_records(returns, definitions, symbols, pair_symbols, pair_days,
                                      block_cells, stats,
                                      compute.factor_sort_order(conn, factors))
    lap("compute")
    if not records:
        return unavailable
    beta_store.copy_records(conn, records)
    lap("copy")
    if beta_store.insert_betas(conn, symbols, factors, list(pair_symbols[partial]),
                               [d.astype(object) for d in pair_days[partial]],
                               stats.rows_written):
        lap("analyze")
    lap("insert")
    stats.restated_portfolios = restatements.mark_beta_writes(conn, symbols)
    lap("restate")
    return unavailable
