"""Which (symbol, session) betas the portfolios in scope still need.

For every symbol the portfolios in scope hold (an option counts as its underlying), the
sessions it is held (from the first session >= entry_date, before its effective exit,
`raw.effective_exit_date`) through as_of, made one contiguous range per symbol (a gap
between two holding periods is computed too, once) together with the range
``raw.symbol_beta_coverage`` already marks complete for the current factor set. Only the
sessions of that range outside the mark are looked up in ``raw.symbol_factor_betas``
(index range scans), and those missing a row for some factor are needed. So a daily run
reads one session per symbol whatever the length of the history; a deleted beta shrinks
the mark (triggers, migration 0003) and is recomputed by the next run. Two set-based
queries, no Python loop over dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from snapfolio.core.sql import sql_text


@dataclass
class Spans:
    """Per held symbol (sorted): the session range [lo, hi] whose betas must be
    complete, and its currently covered range [cf, ct] (None: nothing covered)."""

    symbols: tuple[str, ...] = ()
    lo: tuple[date, ...] = ()
    hi: tuple[date, ...] = ()
    cf: tuple[date | None, ...] = ()
    ct: tuple[date | None, ...] = ()

    def params(self) -> dict[str, list]:
        return {"symbols": list(self.symbols), "lo": list(self.lo), "hi": list(self.hi),
                "cf": list(self.cf), "ct": list(self.ct)}


def held_spans(conn: sa.Connection, portfolio_ids: list[int], as_of: date,
               factors: list[str]) -> Spans:
    """Per held symbol: the range whose betas must be complete, and its coverage mark."""
    if not portfolio_ids:
        return Spans()
    rows = conn.execute(sql_text(__file__, "held_spans"),
                        {"ids": list(portfolio_ids), "as_of": as_of,
                         "factors": sorted(factors)}).all()
    return Spans(*zip(*rows)) if rows else Spans()


def needed_pairs(conn: sa.Connection, spans: Spans, factors: list[str]) -> list:
    """(symbol, day number since 1970, factor rows held) of every pair missing a factor."""
    if not spans.symbols:
        return []
    return conn.execute(sql_text(__file__, "needed_pairs"),
                        {**spans.params(), "factors": factors,
                         "n_factors": len(factors)}).all()


def unpriced(conn: sa.Connection, symbols: list[str]) -> set[str]:
    """Symbols with no price at all (one index probe each): unavailable, no beta rows."""
    return set(conn.execute(sql_text(__file__, "unpriced_symbols"), {"s": symbols}).scalars())
