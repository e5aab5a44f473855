"""Factors phase: the betas every (symbol, session) of the gaps needs (factors.betas)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.engine import Engine

from factors.betas import compute_factor_betas


def compute_betas_phase(engine: Engine, portfolio_ids: list[int], as_of: date) -> dict:
    return compute_factor_betas(engine, portfolio_ids, as_of).as_stats()
