"""Price plan: which (symbol, date range) pairs to ask the providers for; no network.

Scope = the symbols of the portfolios in the run (options add their underlying) ∪ the
factor ETFs; range = each symbol's own missing sessions between (its earliest needed
session − the longest regression window − the stale window) and the last session a
position needs it (as_of, or its exit / expiry). What was already asked of the
providers is remembered per symbol (raw.symbol_status.covered_from/to, always one
contiguous range), so a second run the same day makes no request at all and the next
day asks for one session.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from snapfolio.core import calendar
from snapfolio.core.dbt_project import stale_price_sessions
from snapfolio.core.sql import sql_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PriceRequest:
    start: date
    end: date
    symbols: tuple[str, ...]

    def as_stats(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "symbols": list(self.symbols)}


@dataclass
class PricePlan:
    as_of: date
    scoped_symbols: list[str]
    requests: list[PriceRequest]
    complete_symbols: list[str] = field(default_factory=list)
    cooling_off: dict[str, str] = field(default_factory=dict)

    def as_stats(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "scoped_symbols": list(self.scoped_symbols),
            "scoped_count": len(self.scoped_symbols),
            "complete_symbols": len(self.complete_symbols),
            "cooling_off": dict(self.cooling_off),
            "requests": [r.as_stats() for r in self.requests],
        }

    def describe(self) -> str:
        """One log line: what is in scope and what will be asked for."""
        asks = "; ".join(f"{r.start}..{r.end} × {len(r.symbols)}" for r in self.requests) or "none"
        shown = ", ".join(self.scoped_symbols[:50]) + (" …" if len(self.scoped_symbols) > 50 else "")
        return (f"price plan as_of {self.as_of}: {len(self.scoped_symbols)} symbols in scope "
                f"({shown}), {len(self.complete_symbols)} complete, "
                f"cooling off {sorted(self.cooling_off) or 'none'}, requests: {asks}")


def plan_prices(
    conn: sa.Connection,
    portfolio_ids: list[int],
    as_of: date,
    *,
    factor_symbols: list[str],
    lookback_sessions: int,
    cooloff: timedelta = timedelta(hours=24),
    retry_unavailable: bool = False,
    now: datetime | None = None,
) -> PricePlan:
    """Which (symbol, date range) pairs to ask the providers for; no network here.

    Symbols sharing a missing range share one request (the provider batches them).
    """
    now = now or datetime.now(UTC)
    needs = conn.execute(
        sql_text(__file__, "price_needs"),
        {"ids": list(portfolio_ids), "as_of": as_of},
    ).all()
    if not needs:
        return PricePlan(as_of=as_of, scoped_symbols=[], requests=[])
    # +1 session for the first return, + the stale-price window
    back = lookback_sessions + 1 + stale_price_sessions()
    needed: dict[str, tuple[date, date]] = {
        r.symbol: (calendar.sessions_back_clipped(min(r.first_entry, as_of), back),
                   r.last_needed)
        for r in needs
    }
    earliest = min(lo for lo, _ in needed.values())
    for etf in factor_symbols:
        needed[etf] = (min(needed.get(etf, (earliest, as_of))[0], earliest), as_of)
    status = {
        row.symbol: row
        for row in conn.execute(
            sql_text(__file__, "symbol_status"),
            {"s": list(needed)},
        )
    }
    ranges: dict[tuple[date, date], list[str]] = defaultdict(list)
    plan = PricePlan(as_of=as_of, scoped_symbols=sorted(needed), requests=[])
    for symbol in plan.scoped_symbols:  # one pass over symbols (tens to ~1,000), not rows
        row = status.get(symbol)
        if (row is not None and row.status == "unavailable" and not retry_unavailable
                and row.last_attempt_at + cooloff > now):
            plan.cooling_off[symbol] = row.reason or "unavailable"
            continue
        missing = _missing_ranges(*needed[symbol], row.covered_from if row else None,
                                  row.covered_to if row else None)
        if not missing:
            plan.complete_symbols.append(symbol)
        for rng in missing:
            ranges[rng].append(symbol)
    plan.requests = [PriceRequest(s, e, tuple(sorted(syms)))
                     for (s, e), syms in sorted(ranges.items())]
    log.info(plan.describe())
    return plan


def _missing_ranges(
    start: date, end: date, covered_from: date | None, covered_to: date | None
) -> list[tuple[date, date]]:
    """The parts of [start, end] outside the covered range, extended to touch it.

    Extending keeps the covered range contiguous: a request that stopped short of it
    would leave a hole the single (from, to) pair could not describe.
    """
    if start > end:
        return []
    if covered_from is None or covered_to is None:
        return [(start, end)]
    out = []
    if start < covered_from:
        out.append((start, calendar.previous_session(covered_from)))
    if covered_to < end:
        out.append((calendar.next_session(covered_to), end))
    return [(s, e) for s, e in out if s <= e]


def refetch_from(conn: sa.Connection, symbols: list[str] | None, from_date: date) -> int:
    """Forget coverage from `from_date` on, so the next ingest asks the providers again.

    The way to pick up a provider's correction of an old close (a correction changes
    nothing until it is fetched). `symbols=None` means every symbol. Returns the
    number of symbols whose coverage shrank.
    """
    return conn.execute(
        sql_text(__file__, "refetch_from"),
        {"d": from_date, "prev": calendar.previous_session(from_date),
         "s": list(symbols) if symbols is not None else None},
    ).rowcount




def entry_anchors(conn: sa.Connection, portfolio_ids: list[int]) -> dict[str, tuple[date, float]]:
    """Each held symbol's earliest (entry date, entry price) over all stored portfolios:
    what the synthetic provider anchors its paths to (real providers ignore it), the same
    whichever portfolios a run or shard holds."""
    return {r.symbol: (r.entry_date, float(r.entry_price))
            for r in conn.execute(sql_text(__file__, "entry_anchors"), {"ids": portfolio_ids})}
