"""What a change to history restates: the one owner of `raw.restatements` and of the
beta invalidation a price change causes.

A change to a price (provider correction, manual load, back-filled history) deletes the
betas whose windows contain the changed return and marks every portfolio whose stored
history it reaches; betas written for sessions already stored mark their holders; a
replaced portfolio forgets its marks; a dbt build advances the marks it applied. The
work set (dbt `int_portfolio_work_sessions`) and the plan's earliest gap read the marks.
Every write here runs in the caller's transaction.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa

from snapfolio.core import calendar
from snapfolio.core.locks import FACTORS_LOCK_KEY, hold_off_dbt_builds, xact_lock
from snapfolio.core.sql import sql_text


def begin_history_change(conn: sa.Connection) -> None:
    """First statement of a transaction that changes prices or profiles: a build
    stamping its start waits for this commit, and a build that stamped before this
    sees none of it, so every mark written here is either seen by a build or stamped
    after its start (never consumed unseen). Waits at most for another build's stamp,
    an instant, never for a running build (snapfolio.core.locks)."""
    hold_off_dbt_builds(conn)


def marts_exist(conn: sa.Connection) -> bool:
    """Before the first build there is no stored history to restate."""
    return conn.execute(
        sa.text("select to_regclass('marts.fct_portfolio_snapshots')")).scalar() is not None


def invalidate_betas(conn: sa.Connection, span: pd.DataFrame, factor_symbols: list[str]) -> None:
    """Delete the betas whose window can contain a new or corrected return.

    `span` has one row per changed symbol (index) with `min`, `max` and `reach` (the
    session the longest window from `max` reaches). A change on [min, max] reaches the
    betas of sessions min .. reach: the symbol's own, or everyone's for a factor ETF.
    Bounded so that back-filling old ETF history does not throw away every beta. Taken
    under the factors lock: a factors phase in progress must not mark as complete a
    range whose rows are deleted here (the deletes shrink raw.symbol_beta_coverage).
    """
    xact_lock(conn, FACTORS_LOCK_KEY)
    etf = span[span.index.isin(factor_symbols)]
    if len(etf):
        conn.execute(sql_text(__file__, "invalidate_etf_betas"),
                     {"lo": etf["min"].min(), "hi": max(etf["reach"])})
    conn.execute(sql_text(__file__, "invalidate_symbol_betas"),
                 {"s": list(span.index), "lo": list(span["min"]), "hi": list(span["reach"])})


def mark_price_changes(conn: sa.Connection, span: pd.DataFrame, factor_symbols: list[str]) -> int:
    """Mark each portfolio whose computed history the changed prices can affect; returns
    the number of portfolios marked (rules in sql/restate_price_changes.sql)."""
    if not marts_exist(conn):
        return 0
    return conn.execute(
        sql_text(__file__, "restate_price_changes"),
        {"s": list(span.index), "lo": list(span["min"]), "hi": list(span["max"]),
         "reach": list(span["reach"]), "etfs": list(factor_symbols)},
    ).rowcount


def mark_beta_writes(conn: sa.Connection, symbols: list[str]) -> int:
    """Betas just COPY'd into `incoming_betas` for sessions already stored: mark their
    holders (the exposures of those sessions must be rebuilt). The marks can be another
    run's portfolios (a symbol both hold), whose build may be starting right now: held
    off like every mark writer, right before the marks (after the factors lock this
    transaction holds, so a build's start stamp waits only for the end of the write,
    never for a factors phase's whole computation)."""
    if not marts_exist(conn):
        return 0
    hold_off_dbt_builds(conn)
    return conn.execute(sql_text(__file__, "restate_beta_writes"), {"symbols": symbols}).rowcount


def forget_portfolio(conn: sa.Connection, portfolio_id: int) -> None:
    """A replaced portfolio's history is rebuilt from scratch: its marks are moot."""
    for table in ("raw.restatements", "raw.risk_marks"):
        conn.execute(sa.text(f"delete from {table} where portfolio_id = :p"), {"p": portfolio_id})


def advance_after_build(
    conn: sa.Connection, started: object, as_of: date, portfolio_ids: list[int] | None
) -> None:
    """A build through `as_of` that started at `started` applied the marks made before it:
    move them past `as_of` (a chunked backfill restates each session once) and drop
    those with no stored session left after them."""
    scope = {"t": started, "ids": list(portfolio_ids) if portfolio_ids else None}
    conn.execute(sql_text(__file__, "advance_restatements"),
                 {**scope, "a": as_of, "next": calendar.next_session(as_of)})
    conn.execute(sql_text(__file__, "drop_applied_restatements"), scope)


def marks_by_portfolio(conn: sa.Connection, portfolio_ids: list[int]) -> dict[int, date]:
    """Per portfolio, the first session it must rebuild because of a mark."""
    return {int(p): d for p, d in conn.execute(sql_text(__file__, "restatements_by_portfolio"),
                                               {"ids": portfolio_ids}).all()}


def mark_risk_from(conn: sa.Connection, starts: dict[int, date]) -> None:
    """Before the accounting build rewrites these sessions: their risk rows (and every
    later one, whose windows contain them) must be recomputed. Cleared by the risk
    phase once it has, so a crash in between loses nothing."""
    if starts:
        conn.execute(sql_text(__file__, "mark_risk"),
                     {"ids": list(starts), "d": list(starts.values())})


def mark_all_risk(conn: sa.Connection) -> None:
    """Every stored risk row of every portfolio must be recomputed (the dbt project that
    defines them changed)."""
    conn.execute(sql_text(__file__, "mark_all_risk"))


def clear_risk_marks(conn: sa.Connection, portfolio_ids: list[int], before: object) -> None:
    """The risk phase recomputed everything marked before it started."""
    conn.execute(sa.text("delete from raw.risk_marks where portfolio_id = any(:ids) "
                         "and marked_at <= :t"), {"ids": portfolio_ids, "t": before})
