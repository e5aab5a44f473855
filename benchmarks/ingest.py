"""Benchmark: scoped price ingest of 1,200 symbols × 1 year into PostgreSQL.

Run ``python benchmarks/ingest.py [--symbols 1200 --sessions 254]``; prints one JSON
object. Uses SNAPFOLIO_DATABASE_URL's server if set, else the embedded PostgreSQL,
in a throw-away database that is dropped afterwards. The ingest is the real path
(`flows.phases.prices.ingest_prices`: plan → fetch from the synthetic provider → COPY + one
upsert); the baseline is a naive row-by-row INSERT, timed on a sample in the same
run and extrapolated to the same row count.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=1200)
    parser.add_argument("--sessions", type=int, default=254, help="sessions fetched per symbol")
    parser.add_argument("--as-of", default="2025-12-31")
    parser.add_argument("--naive-sample", type=int, default=5000)
    args = parser.parse_args()
    # This script is named ingest.py: put the repo root first so that `ingest`
    # resolves to the package, not to this file.
    sys.path.insert(0, str(ROOT))

    import sqlalchemy as sa

    from snapfolio.core.database import ensure_database_exists, migrate, resolve_url
    from snapfolio.core.settings import load_settings

    settings = load_settings()
    server = resolve_url(settings)
    url = server.set(database=f"snapfolio_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}")
    ensure_database_exists(url)
    engine = sa.create_engine(url, pool_size=2)
    try:
        migrate(engine)
        out = run(engine, settings, args)
    finally:
        engine.dispose()
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{url.database}" with (force)'))
        admin.dispose()
    out["database"] = "SNAPFOLIO_DATABASE_URL" if settings.database_url else "embedded"
    print(json.dumps(out, indent=2))


def run(engine, settings, args) -> dict:
    import sqlalchemy as sa

    from flows.phases.prices import ingest_prices
    from ingest.portfolio_csv import PositionRow
    from ingest.portfolio_store import store_portfolio
    from ingest.providers import SyntheticProvider
    from snapfolio.core import calendar
    from snapfolio.core.dbt_project import stale_price_sessions
    from snapfolio.core.factor_definitions import lookback_sessions

    as_of = date.fromisoformat(args.as_of)
    # entry chosen so that the planned range (entry − lookback − stale, as_of) is
    # exactly `sessions` sessions long
    back = lookback_sessions() + 1 + stale_price_sessions()
    start = calendar.sessions_back(as_of, args.sessions - 1)
    entry = calendar.sessions_between(start, as_of)[min(back, args.sessions - 1)]
    symbols = [f"B{i:04d}" for i in range(args.symbols)]
    rows = [PositionRow(line=i + 2, symbol=s, underlying_symbol=None, quantity=Decimal(100),
                        entry_price=Decimal(50), entry_date=entry, exit_date=None,
                        exit_price=None, investment_class="PUBLIC", investment_subtype="STOCK",
                        option_type=None, strike=None, expiration=None, multiplier=1)
            for i, s in enumerate(symbols)]
    with engine.begin() as conn:
        pid = store_portfolio(conn, "bench", rows).portfolio_id

    provider = SyntheticProvider(seed=11)
    provider.grid  # noqa: B018 - build the provider's fixed grid outside the timing
    calendar.sessions_array(start, as_of)
    t0 = time.perf_counter()
    result = ingest_prices(engine, settings, [pid], as_of, provider=provider)
    total = time.perf_counter() - t0
    t1 = time.perf_counter()
    second = ingest_prices(engine, settings, [pid], as_of, provider=provider)
    second_s = time.perf_counter() - t1

    naive_s, naive_rows = naive_insert(engine, args.naive_sample, start)
    naive_per_row = naive_s / naive_rows
    store_s = result.timings["store_s"]
    with engine.connect() as conn:
        stored = conn.scalar(sa.text("select count(*) from raw.prices"))
    return {
        "symbols_held": args.symbols,
        "symbols_in_scope": len(result.plan.scoped_symbols),
        "sessions": args.sessions,
        "range": [result.plan.requests[0].start.isoformat(), as_of.isoformat()],
        "planned_requests": len(result.plan.requests),
        "provider_requests": result.provider_requests,
        "rows": result.rows_stored,
        "rows_in_table": stored,
        "fetch_s": result.timings["fetch_s"],
        "store_s": store_s,
        "total_s": round(total, 3),
        "store_rows_per_s": round(result.rows_stored / store_s),
        "end_to_end_rows_per_s": round(result.rows_stored / total),
        "second_run": {"provider_requests": second.provider_requests,
                       "rows": second.rows_stored, "seconds": round(second_s, 3)},
        "naive_baseline": {
            "method": "one INSERT statement per row, one transaction",
            "sample_rows": naive_rows,
            "sample_s": round(naive_s, 3),
            "rows_per_s": round(1 / naive_per_row),
            "extrapolated_s": round(naive_per_row * result.rows_stored, 3),
        },
        "speedup_vs_naive": round(naive_per_row * result.rows_stored / store_s, 1),
    }


def naive_insert(engine, n: int, start: date) -> tuple[float, int]:
    """Row-by-row INSERTs of n synthetic rows into a copy of raw.prices (same indexes)."""
    from ingest.providers import SyntheticProvider

    per_symbol = 250
    symbols = [f"N{i:04d}" for i in range(max(1, -(-n // per_symbol)))]
    prices = SyntheticProvider(seed=12).fetch(symbols, start, date(2030, 12, 31)).prices
    sample = prices.groupby("symbol").head(per_symbol).head(n)
    rows = list(sample.itertuples(index=False, name=None))
    with engine.begin() as conn:
        conn.exec_driver_sql("create temp table naive_prices (like raw.prices including all)")
        cur = conn.connection.driver_connection.cursor()
        t0 = time.perf_counter()
        for symbol, day, close, adj in rows:  # the baseline: deliberately one round trip per row
            cur.execute("insert into naive_prices (symbol, price_date, close, adj_close, source) "
                        "values (%s, %s, %s, %s, 'naive')", (symbol, day, close, adj))
        elapsed = time.perf_counter() - t0
    return elapsed, len(rows)


if __name__ == "__main__":
    main()
