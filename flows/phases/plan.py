"""Plan phase: resolve and lock the portfolios in scope, find where their gaps start
and cut the sessions from there to as_of into committed chunks.

Each portfolio's gaps are read from the marts as they are now (never a global
watermark): its sessions with no done snapshot (complete, or final: incomplete only for
closes the providers were already asked for and did not have), plus everything from a
restatement mark on (ingest.restatements). Final sessions are not gaps; they are
reported (`final_session_notes`) until a price for them arrives and restates them.
"""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy.engine import Engine

from flows import run_history
from flows.lifecycle import Run
from ingest import restatements
from snapfolio.core import calendar
from snapfolio.core.sql import sql_text

log = logging.getLogger(__name__)


class UnknownPortfolioError(ValueError):
    """A --portfolio name that is not onboarded."""


def resolve_portfolios(engine: Engine, names: list[str] | None) -> dict[str, int]:
    """Names -> ids of the portfolios in scope (every active one when names is empty)."""
    with engine.connect() as conn:
        if names:
            found = dict(conn.execute(sql_text(__file__, "portfolios_by_name"),
                                      {"n": list(names)}).all())
            unknown = [n for n in names if n not in found]
            if unknown:
                raise UnknownPortfolioError(f"unknown portfolio: {', '.join(unknown)}")
            return {n: int(found[n]) for n in names}
        return {n: int(i) for n, i in conn.execute(sql_text(__file__, "active_portfolios")).all()}


def lock_scope(engine: Engine, run: Run, names: list[str] | None) -> list[int]:
    """Lock what is free (a portfolio held by another run is skipped, never waited on);
    returns the ids this run processes."""
    summary = run.summary
    scope = resolve_portfolios(engine, names)
    acquired, held = run.locks.try_lock_portfolios(list(scope.values()))
    by_id = {v: k for k, v in scope.items()}
    summary.portfolios = {by_id[i]: i for i in acquired}
    summary.skipped = sorted(by_id[i] for i in held)
    for name in summary.skipped:
        summary.warnings.append(f"portfolio {name} skipped: another run is processing it")
    summary.portfolio_states = {**{n: "processing" for n in summary.portfolios},
                                **{n: "skipped (held by another run)" for n in summary.skipped}}
    run_history.update_run(engine, run.run_id,
                           stats={"portfolio_states": summary.portfolio_states})
    log.info("plan: %d portfolio(s) in scope%s%s", len(summary.portfolios),
             f" ({', '.join(sorted(summary.portfolios))})" if len(summary.portfolios) <= 20 else "",
             f"; skipped, held by another run: {', '.join(summary.skipped)}"
             if summary.skipped else "")
    return sorted(summary.portfolios.values())


def gaps_by_portfolio(engine: Engine, portfolio_ids: list[int], as_of: date) -> dict[int, date]:
    """Per portfolio, the first session it still needs (no done snapshot, or a
    restatement mark); portfolios current through as_of are absent."""
    params = {"ids": portfolio_ids, "a": as_of}
    with engine.connect() as conn:
        name = "first_gap" if restatements.marts_exist(conn) else "first_gap_no_marts"
        gaps = {int(p): d for p, d in conn.execute(sql_text(__file__, name), params).all()
                if d is not None}
        for pid, marked in restatements.marks_by_portfolio(conn, portfolio_ids).items():
            if marked <= as_of:
                gaps[pid] = min(gaps.get(pid, marked), marked)
    return gaps


def earliest_gap(engine: Engine, portfolio_ids: list[int], as_of: date) -> date | None:
    """The first session any portfolio in scope still needs (no done snapshot, or restated)."""
    gaps = gaps_by_portfolio(engine, portfolio_ids, as_of)
    return min(gaps.values()) if gaps else None


def final_session_notes(engine: Engine, portfolio_ids: list[int], as_of: date) -> list[str]:
    """One line per (portfolio, symbol) with final sessions through as_of: what the run
    summary reports (they are done as they are, so neither rebuilt nor asked again)."""
    with engine.connect() as conn:
        if not restatements.marts_exist(conn):
            return []
        rows = conn.execute(sql_text(__file__, "final_sessions"),
                            {"ids": portfolio_ids, "a": as_of}).all()
    return [f"portfolio {r.name}: {r.sessions} session(s) {r.first_date}..{r.last_date} final "
            f"(the providers had no {r.symbol} close for them; valued at its last close or "
            f"entry price); a price for them (`snapfolio prices load`) restates them"
            for r in rows]


def mark_risk_work(engine: Engine, portfolio_ids: list[int], as_of: date) -> dict[int, date]:
    """Right before the accounting build: every session it will rewrite (each
    portfolio's first gap on) needs its risk rows recomputed, and so does every later
    one (their windows contain it). Recorded as risk marks, cleared by the risk phase."""
    gaps = gaps_by_portfolio(engine, portfolio_ids, as_of)
    with engine.begin() as conn:
        restatements.mark_risk_from(conn, gaps)
    return gaps


def default_as_of() -> date:
    return calendar.last_completed_session()


