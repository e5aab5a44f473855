"""Factors phase: the betas every (symbol, session) of the gaps needs (factors.betas)."""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy.engine import Engine

from factors.betas import compute_factor_betas

log = logging.getLogger(__name__)


def compute_betas_phase(engine: Engine, portfolio_ids: list[int], as_of: date) -> dict:
    stats = compute_factor_betas(engine, portfolio_ids, as_of)
    log.info("factors: %d (symbol, session) pairs needed for %d symbols, %d beta rows written "
             "(%d insufficient history), %d portfolio(s) restated, unpriced: %s, %.2fs",
             stats.pairs_needed, stats.symbols, stats.rows_written, stats.null_beta_rows,
             stats.restated_portfolios, ", ".join(stats.unavailable_symbols) or "none",
             stats.elapsed)
    return stats.as_stats()
