"""The factors phase: compute and store the betas the portfolios in scope still need.

Needed pairs. For every symbol the portfolios in scope hold (an option counts as its
underlying), the sessions it is held (from the first session >= entry_date, before its
effective exit; an option with no exit closes on the first session after expiration)
through as_of, made one contiguous range per symbol (a gap between two holding periods
is computed too, once) together with the range ``raw.symbol_beta_coverage`` already
marks complete for the current factor set. Only
the sessions of that range outside the mark are looked up in ``raw.symbol_factor_betas``
(index range scans), and those missing a row for some factor are needed. So a daily
run reads one session per symbol whatever the length of the history; a deleted beta
shrinks the mark (triggers, migration 0003) and is recomputed by the next run. Two
set-based queries, no Python loop over dates.

Computation. The adj_close (else close) prices of those symbols and of the factor ETFs
over [earliest needed session - lookback - 1, as_of] are read in ONE query and pivoted
into a (sessions x symbols) frame on the full NYSE session grid; returns come from
``returns_from_prices`` and betas from ``compute_betas`` restricted to the needed
sessions, in blocks of symbols so that memory stays bounded at any scale.

Stored rows. Every requested (symbol, session, factor) gets a row, so nothing needed is
recomputed on the next run and dbt can tell "insufficient history" from "not computed":
* a fitted beta (capped), its r² and n_obs;
* beta NULL when the window has fewer than ``min_obs`` usable observations (or, rarely,
  a constant regressor over the window), with the exact n_obs of the window (a cumsum of
  the usable-row mask, cheap), r² NULL.
A symbol with no price at all (unavailable) gets no row: it stays "needed" (its pairs
are counted in ``pairs_needed`` each run, at the cost of one indexed query) and dbt
reports its positions as ``unavailable`` with the symbol's reason; once prices arrive
its betas are computed by the next run.

Writes. One transaction under a transaction-level advisory lock (two runs never fit
the same pairs twice; a price write that invalidates betas takes it too, so a mark
never covers rows deleted meanwhile): binary COPY into a temp table (fixed-width records
built with numpy: no per-row Python), then one plain ``INSERT`` (a needed pair that
already holds some factor rows, which is rare, has those rows deleted first: the same
result as an ``INSERT ... ON CONFLICT DO UPDATE``, about twice as fast on millions of
rows). When betas are written for sessions that the snapshot mart already covers (e.g.
recomputed after a factor ETF price correction invalidated them), a restatement is
marked for each portfolio holding the symbol on those sessions, so its exposures are
rebuilt by the next dbt build. Last, each priced symbol's range is recorded as its
coverage mark (a symbol with no price at all gets none).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from factors.definitions import FactorDefinition, factor_etfs, load_definitions, lookback_sessions
from factors.rolling import compute_betas, returns_from_prices

FACTORS_LOCK_KEY = 7_246_010  # serializes beta writes (pg advisory xact lock)
ANALYZE_MIN_ROWS = 100_000  # rows written that make the table's statistics stale
BLOCK_CELLS = 60_000  # symbols x target sessions per compute block (~0.7M output rows)

_PG_EPOCH_DAYS = 10_957  # 2000-01-01 - 1970-01-01: PostgreSQL binary dates count from 2000
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)
# One fixed-width binary COPY record: 6 fields, each (int4 length, big-endian value).
# NULLs are sent as NaN (float8) and turned into NULL by the INSERT, so records never
# change size.
_RECORD = np.dtype([
    ("nfields", ">i2"),
    ("l_sym", ">i4"), ("sym", ">i4"),
    ("l_day", ">i4"), ("day", ">i4"),
    ("l_fac", ">i4"), ("fac", ">i2"),
    ("l_beta", ">i4"), ("beta", ">f8"),
    ("l_r2", ">i4"), ("r2", ">f8"),
    ("l_n", ">i4"), ("n", ">i4"),
])

# Per symbol held by the portfolios in scope: the contiguous session range [lo, hi]
# whose betas must be complete, i.e. the sessions it is held (an option counts as its
# underlying; open from entry, before its exit or the first session after expiration,
# through as_of) merged with the symbol's complete range from raw.symbol_beta_coverage
# (when it is for the current factor set). Keeping the range contiguous (a gap between
# two holding periods is filled too) keeps the coverage mark one range per symbol.
_SPANS_SQL = """
with positions as materialized (
    -- materialized: the expiration lookup runs once per position, not once per use
    select
        coalesce(p.underlying_symbol, p.symbol) as symbol,
        p.entry_date,
        coalesce(
            p.exit_date,
            (select min(s.session_date) from raw.trading_sessions s
             where s.session_date > p.expiration)
        ) as exit_date
    from raw.positions p
    where p.portfolio_id = any(:ids) and p.entry_date <= :as_of
),
held as (
    select symbol, min(entry_date) as first_day,
           max(least(coalesce(exit_date - 1, :as_of), :as_of)) as last_day
    from positions
    where exit_date is null or exit_date > entry_date
    group by symbol
)
select
    held.symbol,
    least(held.first_day, c.covered_from) as lo,
    case when c.covered_through is null then held.last_day
         else greatest(held.last_day, least(c.covered_through, :as_of)) end as hi,
    c.covered_from,
    c.covered_through
from held
left join raw.symbol_beta_coverage c
  on c.symbol = held.symbol and c.factors = cast(:factors as text[])
order by held.symbol
"""

# The sessions of each span outside its covered range (at most two pieces per symbol),
# less those already holding every factor's row: index range scans over the new
# sessions only, so a daily run reads one session per symbol, whatever the history.
_NEEDED_PAIRS_SQL = """
with spans as (
    select * from unnest(cast(:symbols as text[]), cast(:lo as date[]), cast(:hi as date[]),
                         cast(:cf as date[]), cast(:ct as date[]))
         as t(symbol, lo, hi, cf, ct)
),
pieces as (
    select symbol, lo, hi from spans where cf is null
    union all
    select symbol, lo, cf - 1 from spans where cf is not null and lo < cf
    union all
    select symbol, ct + 1, hi from spans where cf is not null and hi > ct
),
needed as (
    select pieces.symbol, s.session_date
    from pieces
    join raw.trading_sessions s on s.session_date between pieces.lo and pieces.hi
),
have as (
    -- lateral: one index range scan per piece, whatever the planner guesses for the
    -- ranges (a plain join was hashed against a scan of the whole beta table)
    select pieces.symbol, b.as_of_date, b.n
    from pieces
    cross join lateral (
        select b.as_of_date, count(*) as n
        from raw.symbol_factor_betas b
        where b.symbol = pieces.symbol
          and b.as_of_date between pieces.lo and pieces.hi
          and b.factor = any(:factors)
        group by b.as_of_date
    ) b
)
select needed.symbol, needed.session_date - date '1970-01-01' as day, coalesce(have.n, 0) as have
from needed
left join have
  on have.symbol = needed.symbol and have.as_of_date = needed.session_date
where coalesce(have.n, 0) < :n_factors
order by needed.symbol, needed.session_date
"""

# After the writes: each priced span is complete, so it becomes the symbol's range.
_COVERAGE_SQL = """
insert into raw.symbol_beta_coverage as c (symbol, covered_from, covered_through, factors)
select t.symbol, t.lo, greatest(t.hi, t.ct), cast(:factors as text[])
from unnest(cast(:symbols as text[]), cast(:lo as date[]), cast(:hi as date[]),
            cast(:ct as date[])) as t(symbol, lo, hi, ct)
on conflict (symbol) do update
   set covered_from = excluded.covered_from,
       covered_through = excluded.covered_through,
       factors = excluded.factors,
       updated_at = now()
 where (c.covered_from, c.covered_through, c.factors)
       is distinct from (excluded.covered_from, excluded.covered_through, excluded.factors)
"""

# Needed pairs that already hold some factor rows (half-filled: rare, e.g. a factor
# added to the seed) lose those rows first, so that the insert below never conflicts.
_DELETE_PARTIAL_SQL = """
delete from raw.symbol_factor_betas b
using unnest(cast(:symbols as text[]), cast(:days as date[])) as p(symbol, as_of_date)
where b.symbol = p.symbol and b.as_of_date = p.as_of_date and b.factor = any(:factors)
"""

# A plain INSERT (the pairs are missing or were just cleared, under the factors lock):
# about twice as fast as INSERT ... ON CONFLICT DO UPDATE on millions of rows, same rows.
_INSERT_SQL = """
insert into raw.symbol_factor_betas
    (symbol, as_of_date, factor, beta, r_squared, n_obs, computed_at)
select
    s.symbol,
    i.as_of_date,
    f.factor,
    nullif(i.beta, 'NaN'),
    nullif(i.r_squared, 'NaN'),
    i.n_obs,
    now()
from incoming_betas i
-- joins, not array subscripts: subscripting a text array walks it element by element
join unnest(cast(:symbols as text[])) with ordinality as s(symbol, code) on s.code = i.sym
join unnest(cast(:factors as text[])) with ordinality as f(factor, code) on f.code = i.fac
"""

_RESTATE_SQL = """
insert into raw.restatements (portfolio_id, from_date, reason)
select pos.portfolio_id, min(w.as_of_date), 'factor betas computed for existing sessions'
from (select distinct sym, as_of_date from incoming_betas) w
join unnest(cast(:symbols as text[])) with ordinality as s(symbol, code) on s.code = w.sym
join raw.positions pos
  on coalesce(pos.underlying_symbol, pos.symbol) = s.symbol
 and w.as_of_date >= pos.entry_date
 and (pos.exit_date is null or w.as_of_date < pos.exit_date)
where w.as_of_date <= (
    select max(s.snapshot_date) from marts.fct_portfolio_snapshots s
    where s.portfolio_id = pos.portfolio_id)
group by pos.portfolio_id
"""


@dataclass
class FactorRunStats:
    """What one factors phase did (``as_stats`` goes into the batch summary)."""

    symbols: int = 0  # symbols with needed pairs (unavailable ones included)
    pairs_needed: int = 0  # (symbol, session) pairs missing at least one factor row
    rows_written: int = 0  # (symbol, session, factor) rows written
    null_beta_rows: int = 0  # of which beta NULL (insufficient history)
    unavailable_symbols: list[str] = field(default_factory=list)  # no prices: no rows
    unavailable_pairs: int = 0  # needed pairs of those symbols (still needed next run)
    restated_portfolios: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0

    def as_stats(self) -> dict:
        return asdict(self)


def compute_factor_betas(
    engine: Engine,
    portfolio_ids: list[int],
    as_of: date,
    *,
    definitions: list[FactorDefinition] | None = None,
    block_cells: int = BLOCK_CELLS,
) -> FactorRunStats:
    """Compute and store every missing (symbol, session, factor) beta the portfolios need."""
    started = time.perf_counter()
    stats = FactorRunStats()
    definitions = definitions if definitions is not None else load_definitions()
    factors = [d.factor for d in definitions]
    lap = _Lap(stats.timings)

    with engine.begin() as conn:
        conn.execute(sa.text("select pg_advisory_xact_lock(:k)"), {"k": FACTORS_LOCK_KEY})
        spans = _Spans(*zip(*conn.execute(
            sa.text(_SPANS_SQL),
            {"ids": list(portfolio_ids), "as_of": as_of, "factors": sorted(factors)},
        ).all())) if portfolio_ids else _Spans()
        pairs = conn.execute(
            sa.text(_NEEDED_PAIRS_SQL), {**spans.params(), "factors": factors,
                                         "n_factors": len(factors)},
        ).all() if spans.symbols else []
        lap("pairs")
        unavailable = _write_missing_betas(conn, pairs, definitions, as_of, block_cells,
                                           stats, lap)
        _mark_coverage(conn, spans, unavailable, factors)
        lap("coverage")
    lap("commit")
    stats.elapsed = round(time.perf_counter() - started, 3)
    return stats


def _write_missing_betas(conn: sa.Connection, pairs: list, definitions: list[FactorDefinition],
                         as_of: date, block_cells: int, stats: FactorRunStats,
                         lap: _Lap) -> set[str]:
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

    unavailable = _unpriced(conn, symbols)
    stats.unavailable_symbols = sorted(unavailable)
    if unavailable:
        keep = ~np.isin(pair_symbols, list(unavailable))
        stats.unavailable_pairs = int((~keep).sum())
        pair_symbols, pair_days, partial = pair_symbols[keep], pair_days[keep], partial[keep]
    if not len(pair_symbols):
        return unavailable

    sessions = _session_grid(conn, pair_days.min().astype(object), as_of,
                             lookback_sessions(definitions) + 1)
    priced = list(dict.fromkeys(pair_symbols))
    prices = _load_prices(conn, list(dict.fromkeys([*priced, *factor_etfs(definitions)])),
                          sessions)
    lap("load")
    returns = returns_from_prices(prices)
    # a symbol with prices outside the range only: all-missing column (n_obs 0 rows)
    for sym in priced:
        if sym not in returns.columns:
            returns[sym] = np.nan
    factor_order = conn.execute(
        sa.text("select i - 1 from unnest(cast(:f as text[])) with ordinality as t(f, i) "
                "order by f"), {"f": factors}).scalars().all()
    records = _compute_records(returns, definitions, symbols, pair_symbols, pair_days,
                               block_cells, stats, factor_order)
    lap("compute")
    if not records:
        return unavailable
    _copy_records(conn, records)
    lap("copy")
    if partial.any():
        conn.execute(sa.text(_DELETE_PARTIAL_SQL), {
            "symbols": list(pair_symbols[partial]),
            "days": [d.astype(object) for d in pair_days[partial]],
            "factors": factors})
    conn.execute(sa.text(_INSERT_SQL), {"symbols": symbols, "factors": factors})
    lap("insert")
    if stats.rows_written >= ANALYZE_MIN_ROWS:
        # a fresh bulk load has no statistics: without them the dbt build that
        # follows plans its beta join for a tiny table (300 s instead of 10 s
        # for a 60-session chunk of 1,000 portfolios)
        conn.execute(sa.text("analyze raw.symbol_factor_betas"))
        lap("analyze")
    if conn.execute(sa.text("select to_regclass('marts.fct_portfolio_snapshots')")).scalar():
        stats.restated_portfolios = conn.execute(
            sa.text(_RESTATE_SQL), {"symbols": symbols}).rowcount
        lap("restate")
    return unavailable


@dataclass
class _Spans:
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


def _mark_coverage(conn: sa.Connection, spans: _Spans, unavailable: set[str],
                   factors: list[str]) -> None:
    """Record each priced span as complete (its missing rows were just written; a symbol
    without any price has no rows, so it gets no mark and stays needed)."""
    keep = [i for i, s in enumerate(spans.symbols) if s not in unavailable]
    if not keep:
        return
    conn.execute(sa.text(_COVERAGE_SQL), {
        "symbols": [spans.symbols[i] for i in keep], "lo": [spans.lo[i] for i in keep],
        "hi": [spans.hi[i] for i in keep], "ct": [spans.ct[i] for i in keep],
        "factors": sorted(factors)})


def _session_grid(conn: sa.Connection, first: date, as_of: date, back: int) -> pd.Index:
    """Every NYSE session from ``back`` sessions before ``first`` through as_of."""
    days = conn.execute(
        sa.text(
            """
            select session_date from raw.trading_sessions
            where session_index >= (select session_index from raw.trading_sessions
                                    where session_date = :first) - :back
              and session_date <= :as_of
            order by session_index
            """
        ),
        {"first": first, "back": back, "as_of": as_of},
    ).scalars().all()
    return pd.Index(days, dtype=object, name="session")


def _load_prices(conn: sa.Connection, symbols: list[str], sessions: pd.Index) -> pd.DataFrame:
    """One query: adj_close (else close) per (session, symbol); wide, on the full grid."""
    rows = conn.execute(
        sa.text(
            """
            select symbol, price_date - date '1970-01-01', coalesce(adj_close, close)
            from raw.prices
            where symbol = any(:s) and price_date between :lo and :hi
            """
        ),
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


def _unpriced(conn: sa.Connection, symbols: list[str]) -> set[str]:
    """Symbols with no price at all (one index probe each): unavailable, no beta rows."""
    return set(conn.execute(
        sa.text(
            "select s from unnest(cast(:s as text[])) as s "
            "where not exists (select 1 from raw.prices p where p.symbol = s)"
        ),
        {"s": symbols},
    ).scalars())


def _window_counts(returns: pd.DataFrame, d: FactorDefinition, symbols: list[str],
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


def _compute_records(
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
    pg_days = (session_days.astype(np.int64) - _PG_EPOCH_DAYS).astype(np.int32)
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
        rec = np.empty((len(req_codes), len(definitions)), dtype=_RECORD)
        rec["nfields"] = 6
        rec["l_sym"], rec["l_day"], rec["l_fac"] = 4, 4, 2
        rec["l_beta"], rec["l_r2"], rec["l_n"] = 8, 8, 4
        rec["sym"] = (b_sym + 1)[:, None]
        rec["day"] = pg_days[b_pos][:, None]
        for col, f_idx in enumerate(factor_order):
            d = definitions[f_idx]
            beta = np.full(len(req_codes), np.nan)
            r2 = np.full(len(req_codes), np.nan)
            n = _window_counts(sub, d, names, np.arange(n_sessions))[local, b_pos]
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


def _copy_records(conn: sa.Connection, records: list[np.ndarray]) -> None:
    """Binary COPY of the fixed-width records into a temp table dropped at commit."""
    conn.execute(sa.text(
        "create temp table incoming_betas (sym integer, as_of_date date, fac smallint, "
        "beta double precision, r_squared double precision, n_obs integer) on commit drop"
    ))
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy("copy incoming_betas from stdin (format binary)") as copy:
        copy.write(_COPY_HEADER)
        for rec in records:
            copy.write(rec.tobytes())
        copy.write(_COPY_TRAILER)


class _Lap:
    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self.last, 3)
        self.last = now

