"""Scoped, incremental price ingest: plan what is missing, fetch it, check it, store it.

Scope = the symbols of the portfolios in the run (options add their underlying) ∪ the
factor ETFs; range = each symbol's own missing sessions between (its earliest needed
session − the longest regression window) and as_of. What was already asked of the
providers is remembered per symbol (raw.symbol_status.covered_from/to), so a second
run the same day makes no request at all.
"""

from __future__ import annotations

import io
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ingest import calendar
from ingest.providers.base import PRICE_COLUMNS, FetchResult, PriceProvider

log = logging.getLogger(__name__)

STALE_SESSIONS = 5


@dataclass(frozen=True)
class PriceRequest:
    start: date
    end: date
    symbols: tuple[str, ...]


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
            "scoped_symbols": len(self.scoped_symbols),
            "complete_symbols": len(self.complete_symbols),
            "cooling_off": self.cooling_off,
            "requests": [
                {"start": r.start.isoformat(), "end": r.end.isoformat(), "symbols": len(r.symbols)}
                for r in self.requests
            ],
        }


@dataclass(frozen=True)
class RejectedPrice:
    symbol: str
    price_date: date
    close: float
    reason: str


@dataclass
class IngestResult:
    plan: PricePlan
    provider_requests: int = 0
    rows_stored: int = 0
    unavailable: dict[str, str] = field(default_factory=dict)
    rejected: list[RejectedPrice] = field(default_factory=list)
    restated_portfolios: int = 0

    def as_stats(self) -> dict:
        return {
            "plan": self.plan.as_stats(),
            "provider_requests": self.provider_requests,
            "rows_stored": self.rows_stored,
            "unavailable": self.unavailable,
            "rejected": [
                {**asdict(r), "price_date": r.price_date.isoformat()} for r in self.rejected
            ],
            "restated_portfolios": self.restated_portfolios,
        }


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
    """Which (symbol, date range) pairs to ask the providers for; no network here."""
    now = now or datetime.now(UTC)
    first_entries = dict(
        conn.execute(
            sa.text(
                """
                select symbol, min(entry_date) from (
                    select symbol, entry_date from raw.positions where portfolio_id = any(:ids)
                    union all
                    select underlying_symbol, entry_date from raw.positions
                    where portfolio_id = any(:ids) and underlying_symbol is not null
                ) s group by symbol
                """
            ),
            {"ids": list(portfolio_ids)},
        ).all()
    )
    if not first_entries:
        return PricePlan(as_of=as_of, scoped_symbols=[], requests=[])
    # +1 session for the first return, +STALE_SESSIONS for the stale-price window
    back = lookback_sessions + 1 + STALE_SESSIONS
    needed_from = {
        s: calendar.sessions_back(min(d, as_of), back) for s, d in first_entries.items()
    }
    earliest = min(needed_from.values())
    for etf in factor_symbols:
        needed_from[etf] = min(needed_from.get(etf, earliest), earliest)
    status = {
        row.symbol: row
        for row in conn.execute(
            sa.text(
                "select symbol, status, reason, last_attempt_at, covered_from, covered_to "
                "from raw.symbol_status where symbol = any(:s)"
            ),
            {"s": list(needed_from)},
        )
    }
    ranges: dict[tuple[date, date], list[str]] = defaultdict(list)
    plan = PricePlan(as_of=as_of, scoped_symbols=sorted(needed_from), requests=[])
    for symbol in plan.scoped_symbols:
        start = needed_from[symbol]
        row = status.get(symbol)
        cooling = row is not None and row.status == "unavailable" and not retry_unavailable
        if cooling and row.last_attempt_at + cooloff > now:
            plan.cooling_off[symbol] = row.reason or "unavailable"
            continue
        missing = _missing_ranges(start, as_of, row.covered_from if row else None,
                                  row.covered_to if row else None)
        if not missing:
            plan.complete_symbols.append(symbol)
        for rng in missing:
            ranges[rng].append(symbol)
    plan.requests = [PriceRequest(s, e, tuple(sorted(syms))) for (s, e), syms in sorted(ranges.items())]
    return plan


def _missing_ranges(
    start: date, end: date, covered_from: date | None, covered_to: date | None
) -> list[tuple[date, date]]:
    if start > end:
        return []
    if covered_from is None or covered_to is None:
        return [(start, end)]
    out = []
    if start < covered_from:
        out.append((start, min(end, calendar.previous_session(covered_from))))
    if covered_to < end:
        out.append((max(start, calendar.next_session(covered_to)), end))
    return [(s, e) for s, e in out if s <= e]


def fetch_plan(provider: PriceProvider, plan: PricePlan) -> list[tuple[PriceRequest, FetchResult]]:
    """Ask the provider for every planned range: one call per range (the provider batches)."""
    return [(req, provider.fetch(list(req.symbols), req.start, req.end)) for req in plan.requests]


def sanity_filter(
    prices: pd.DataFrame, previous_close: dict[str, float], max_move: float
) -> tuple[pd.DataFrame, list[RejectedPrice]]:
    """Drop non-positive, NaN and absurd one-day moves (beyond ×max_move either way).

    Vectorized per pass; a second pass re-checks the neighbours of a rejected spike
    against the last accepted close.
    """
    rejected: list[RejectedPrice] = []
    df = prices.sort_values(["symbol", "price_date"]).reset_index(drop=True)
    bad = ~np.isfinite(df["close"].to_numpy(dtype=float)) | (df["close"].to_numpy(dtype=float) <= 0)
    adj = df["adj_close"].to_numpy(dtype=float)
    bad |= np.isfinite(adj) & (adj <= 0) | np.isinf(adj)
    rejected += _rejections(df[bad], "non-positive or missing price")
    df = df[~bad].reset_index(drop=True)
    for _ in range(3):
        prev = df.groupby("symbol")["close"].shift(1)
        first = prev.isna()
        prev = prev.where(~first, df["symbol"].map(previous_close))
        ratio = df["close"] / prev
        absurd = ((ratio > max_move) | (ratio < 1.0 / max_move)).fillna(False).to_numpy()
        if not absurd.any():
            break
        rejected += _rejections(df[absurd], f"one-day move beyond x{max_move:g}")
        df = df[~absurd].reset_index(drop=True)
    return df, rejected


def _rejections(rows: pd.DataFrame, reason: str) -> list[RejectedPrice]:
    return [
        RejectedPrice(str(s), d, float(c), reason)
        for s, d, c in zip(rows["symbol"], rows["price_date"], rows["close"], strict=True)
    ]


def store_prices(
    conn: sa.Connection,
    fetched: list[tuple[PriceRequest, FetchResult]],
    *,
    provider_name: str,
    max_move: float,
    now: datetime | None = None,
) -> IngestResult:
    """Write everything fetched in the caller's transaction: prices, coverage, status, restatements."""
    now = now or datetime.now(UTC)
    frames = [res.prices.assign(source=[res.sources.get(s, provider_name) for s in res.prices["symbol"]])
              for _, res in fetched if not res.prices.empty]
    prices = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*PRICE_COLUMNS, "source"])
    prices = prices.drop_duplicates(["symbol", "price_date"], keep="first")
    symbols = sorted(set(prices["symbol"]))
    previous_close = _previous_closes(conn, prices) if symbols else {}
    accepted, rejected = sanity_filter(prices, previous_close, max_move) if symbols else (prices, [])
    changed = _upsert_prices(conn, accepted, now) if not accepted.empty else pd.DataFrame()
    restated = _mark_restatements(conn, changed) if not changed.empty else 0
    unavailable = _update_status(conn, fetched, accepted, now)
    result = IngestResult(
        plan=PricePlan(as_of=date.min, scoped_symbols=[], requests=[]),
        provider_requests=sum(res.requests for _, res in fetched),
        rows_stored=len(changed),
        unavailable=unavailable,
        rejected=rejected,
        restated_portfolios=restated,
    )
    return result


def _previous_closes(conn: sa.Connection, prices: pd.DataFrame) -> dict[str, float]:
    """The stored close just before each symbol's first fetched date (for the move check)."""
    firsts = prices.groupby("symbol")["price_date"].min()
    rows = conn.execute(
        sa.text(
            """
            select distinct on (p.symbol) p.symbol, p.close
            from raw.prices p
            join unnest(cast(:s as text[]), cast(:d as date[])) as f(symbol, first_date)
              on f.symbol = p.symbol and p.price_date < f.first_date
            order by p.symbol, p.price_date desc
            """
        ),
        {"s": list(firsts.index), "d": list(firsts.to_numpy())},
    )
    return {r.symbol: float(r.close) for r in rows}


def _upsert_prices(conn: sa.Connection, prices: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """COPY into a temp table, then one INSERT … ON CONFLICT; returns the rows that changed."""
    conn.execute(
        sa.text(
            "create temp table if not exists incoming_prices (symbol text, price_date date, "
            "close double precision, adj_close double precision, source text) on commit drop"
        )
    )
    conn.execute(sa.text("truncate incoming_prices"))
    buf = io.StringIO()
    prices[["symbol", "price_date", "close", "adj_close", "source"]].to_csv(
        buf, index=False, header=False, na_rep="", float_format="%.10g"
    )
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(
        "copy incoming_prices (symbol, price_date, close, adj_close, source) from stdin (format csv)"
    ) as copy:
        copy.write(buf.getvalue())
    rows = conn.execute(
        sa.text(
            """
            insert into raw.prices as p (symbol, price_date, close, adj_close, source, fetched_at)
            select symbol, price_date, close, adj_close, source, :now from incoming_prices
            on conflict (symbol, price_date) do update
               set close = excluded.close, adj_close = excluded.adj_close,
                   source = excluded.source, fetched_at = excluded.fetched_at
             where (p.close, p.adj_close) is distinct from (excluded.close, excluded.adj_close)
            returning p.symbol, p.price_date
            """
        ),
        {"now": now},
    ).all()
    return pd.DataFrame(rows, columns=["symbol", "price_date"])


def _mark_restatements(conn: sa.Connection, changed: pd.DataFrame) -> int:
    """A price inserted or corrected on or before a portfolio's computed history restates it."""
    if conn.execute(sa.text("select to_regclass('marts.fct_portfolio_snapshots')")).scalar() is None:
        return 0
    firsts = changed.groupby("symbol")["price_date"].min()
    return conn.execute(
        sa.text(
            """
            insert into raw.restatements (portfolio_id, from_date, reason)
            select pos.portfolio_id, min(c.first_date), 'prices inserted or corrected'
            from unnest(cast(:s as text[]), cast(:d as date[])) as c(symbol, first_date)
            join raw.positions pos on c.symbol in (pos.symbol, pos.underlying_symbol)
            where c.first_date <= (
                select max(snapshot_date) from marts.fct_portfolio_snapshots s
                where s.portfolio_id = pos.portfolio_id)
            group by pos.portfolio_id
            """
        ),
        {"s": list(firsts.index), "d": list(firsts.to_numpy())},
    ).rowcount


def _update_status(
    conn: sa.Connection,
    fetched: list[tuple[PriceRequest, FetchResult]],
    accepted: pd.DataFrame,
    now: datetime,
) -> dict[str, str]:
    """Extend each symbol's covered range; record symbols no provider had at all."""
    got = accepted.groupby("symbol")["price_date"].max().to_dict() if not accepted.empty else {}
    covered: dict[str, tuple[date, date]] = {}
    missing: dict[str, str] = {}
    for req, res in fetched:
        for symbol in req.symbols:
            if symbol in got:
                lo, hi = covered.get(symbol, (req.start, got[symbol]))
                covered[symbol] = (min(lo, req.start), max(hi, min(got[symbol], req.end)))
            elif symbol in res.missing:
                missing[symbol] = res.missing[symbol]
    if covered:
        conn.execute(
            sa.text(
                """
                insert into raw.symbol_status as st (symbol, status, reason, last_attempt_at, covered_from, covered_to)
                select symbol, 'available', null, :now, f, t
                from unnest(cast(:s as text[]), cast(:f as date[]), cast(:t as date[])) as c(symbol, f, t)
                on conflict (symbol) do update set
                    status = 'available', reason = null, last_attempt_at = :now,
                    covered_from = least(st.covered_from, excluded.covered_from),
                    covered_to = greatest(st.covered_to, excluded.covered_to)
                """
            ),
            {"now": now, "s": list(covered), "f": [v[0] for v in covered.values()],
             "t": [v[1] for v in covered.values()]},
        )
    unavailable: dict[str, str] = {}
    if missing:
        # only a symbol with no stored price at all is unavailable; a known symbol that
        # merely has no new rows yet is asked again next run
        known = set(
            conn.execute(
                sa.text("select distinct symbol from raw.prices where symbol = any(:s)"),
                {"s": list(missing)},
            ).scalars()
        )
        unavailable = {s: r for s, r in missing.items() if s not in known}
        if unavailable:
            conn.execute(
                sa.text(
                    """
                    insert into raw.symbol_status as st (symbol, status, reason, last_attempt_at)
                    select symbol, 'unavailable', reason, :now
                    from unnest(cast(:s as text[]), cast(:r as text[])) as u(symbol, reason)
                    on conflict (symbol) do update set status = 'unavailable',
                        reason = excluded.reason, last_attempt_at = :now
                    """
                ),
                {"now": now, "s": list(unavailable), "r": list(unavailable.values())},
            )
    return unavailable
