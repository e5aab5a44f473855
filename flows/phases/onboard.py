"""Onboarding phase: the one path that stores a portfolio CSV (CLI `onboard`, the
demo, the Prefect onboarding deployment all come here through the flow).

The file was parsed and validated before the run started; here the portfolio is
stored and locked before its insert commits, so no other run can grab a half-onboarded
portfolio.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.engine import Engine

from flows.lifecycle import Run
from flows.request import OnboardingRequest
from ingest.portfolio_csv import PositionRow
from ingest.portfolio_store import portfolio_ids_by_name, store_portfolio

log = logging.getLogger(__name__)


def onboard(engine: Engine, run: Run, req: OnboardingRequest, rows: list[PositionRow]) -> dict:
    """Store one portfolio (replacing it when asked) and lock it; returns what was stored."""
    with engine.begin() as conn:
        existing = portfolio_ids_by_name(conn, [req.name]).get(req.name)
        if existing is not None and req.replace:
            _, held = run.locks.try_lock_portfolios([int(existing)])
            if held:
                raise RuntimeError(f"portfolio {req.name!r} is being processed by another run; "
                                   "try again when it finishes")
        onboarded = store_portfolio(conn, req.name, rows, equity=req.equity, replace=req.replace,
                                    source_file=str(req.csv_path))
        run.locks.try_lock_portfolios([onboarded.portfolio_id])
    log.info("onboarding: stored %s (id %d) from %s: %d position(s), initial equity %s (%s)%s",
             req.name, onboarded.portfolio_id, Path(req.csv_path).name, onboarded.positions,
             f"{onboarded.initial_equity:,.2f}", onboarded.equity_source,
             ", replacing the previous one" if onboarded.replaced else "")
    return {"name": req.name, "portfolio_id": onboarded.portfolio_id,
            "positions": onboarded.positions,
            "initial_equity": float(onboarded.initial_equity),
            "equity_source": onboarded.equity_source, "replaced": onboarded.replaced}


