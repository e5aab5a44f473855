"""Scale benchmark: a book of 1,000 portfolios × 20 positions over 1,200 synthetic
symbols, through the batch's own code (`flows.batch.execute_batch` with plain
functions instead of Prefect tasks), one JSON object on stdout.

    python benchmarks/scale.py [--portfolios 1000 --positions 20 --symbols 1200]
                               [--quick] [--daily-runs 3] [--no-two-year] [--no-prefect]
    python benchmarks/scale.py --workers 1,2 [...]   # only the worker comparison

Measured, each separately, with the batch's own per-phase timings (summary.timings)
and the rows each phase wrote:
1. backfill: the whole book, entries spread over 2025, through 2025-12-31 (250 sessions);
2. daily: the next sessions' increments (one run per session, --daily-runs of them);
3. two_year: a second book whose entries are spread over 2024-2025, backfilled, then
   the same daily increments: how much doubling the history adds to a daily run;
4. onboarding: one new 20-position portfolio (a CSV, the onboarding path of
   execute_batch) while the whole book exists;
5. prefect: the following daily increments through the Prefect flow on the warm local
   server, against the plain daily runs (Prefect's orchestration overhead);
6. baseline: the dbt model fct_portfolio_snapshots (its own timings from dbt's run
   results, summed over the backfill's chunks) against ONE hand-written
   INSERT ... SELECT of the same rows from fct_position_values.

Synthetic prices (provider "synthetic"), on a throw-away database (benchmarks/_db.py:
embedded PostgreSQL unless SNAPFOLIO_DATABASE_URL is set), dropped afterwards.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# issue targets: backfill and two-year growth (#14, #15, #18), daily increment (#18: 12 s on
# the local server; #14/#15: 20 s), onboarding one portfolio into the full book (#18)
TARGETS = {"backfill_s": 600.0, "daily_s": 12.0, "two_year_daily_added_pct": 20.0,
           "onboarding_s": 8.0, "baseline_ratio": 2.0}
# the risk phase's correlation and stress work: its numpy steps and its dbt models
CORRELATION_STRESS_STEPS = ("correlations", "covariance_and_stress", "store_correlation_pairs")
CORRELATION_STRESS_MODELS = ("fct_portfolio_stress_results", "fct_factor_covariances",
                             "fct_position_correlations")
SNAPSHOT_MODEL = "model.snapfolio.fct_portfolio_snapshots"


# ---------------------------------------------------------------- the synthetic book

def symbol_names(n: int) -> list[str]:
    """Letters only (an OCC symbol's root is [A-Z.]{1,6}); never a factor ETF."""
    out = []
    for i in range(n):
        a, rest = divmod(i, 26 * 26)
        b, c = divmod(rest, 26)
        out.append("Z" + chr(65 + a % 26) + chr(65 + b) + chr(65 + c))
    return out


def make_book(n_portfolios: int, n_positions: int, symbols: list[str], first: date,
              as_of: date, seed: int, name_prefix: str = "scale") -> list[tuple[str, list]]:
    """Portfolios of PositionRow: starts spread over the first quarter of the history,
    60 % of the positions entered on the start and 40 % later (entries over the whole
    period), ~15 % shorts, ~10 % options on one of the symbols (some expiring inside
    the period), ~15 % exited before as_of. Prices near the synthetic closes."""
    from ingest.portfolio_csv import PositionRow
    from ingest.providers.synthetic import SyntheticProvider
    from snapfolio.core import calendar

    rng = np.random.default_rng(seed)
    sessions = calendar.sessions_between(first, as_of)
    closes = _closes(SyntheticProvider(), symbols, sessions[0], as_of)
    quarter = max(1, len(sessions) // 4)
    book = []
    for p in range(n_portfolios):
        start = int(rng.integers(0, quarter))
        rows = []
        picks = rng.choice(len(symbols), size=n_positions, replace=n_positions > len(symbols))
        for line, pick in enumerate(picks, start=2):
            entry = start if rng.random() < 0.6 else int(rng.integers(start, len(sessions)))
            und = symbols[int(pick)]
            s0 = float(closes[und][entry])
            kind = rng.random()
            exit_at = (int(rng.integers(entry + 1, len(sessions)))
                       if rng.random() < 0.15 and entry + 1 < len(sessions) else None)
            if kind < 0.10:  # an option on `und`
                call = rng.random() < 0.5
                strike = max(1.0, round(s0 * float(rng.uniform(0.85, 1.15)), 0))
                expiry = sessions[min(len(sessions) - 1, entry + int(rng.integers(20, 200)))]
                if rng.random() < 0.5:
                    expiry = as_of + timedelta(days=int(rng.integers(30, 400)))
                occ = f"{und}{expiry:%y%m%d}{'C' if call else 'P'}{round(strike * 1000):08d}"
                years = max((expiry - sessions[entry]).days, 1) / 365
                intrinsic = max(s0 - strike, 0) if call else max(strike - s0, 0)
                price = round(intrinsic + 0.4 * s0 * 0.25 * years ** 0.5, 2)
                qty = int(rng.integers(1, 20)) * (-1 if rng.random() < 0.3 else 1)
                ex_date = sessions[exit_at] if exit_at is not None and sessions[exit_at] < expiry else None
                rows.append(PositionRow(
                    line=line, symbol=occ, underlying_symbol=und, quantity=Decimal(qty),
                    entry_price=Decimal(str(max(price, 0.05))), entry_date=sessions[entry],
                    exit_date=ex_date, exit_price=Decimal(str(max(price * 1.1, 0.05))) if ex_date else None,
                    investment_class="OPTIONS", investment_subtype=None,
                    option_type="CALL" if call else "PUT", strike=Decimal(str(strike)),
                    expiration=expiry, multiplier=100))
            else:
                qty = int(rng.integers(10, 2000)) * (-1 if kind > 0.85 else 1)
                ex_date = sessions[exit_at] if exit_at is not None else None
                rows.append(PositionRow(
                    line=line, symbol=und, underlying_symbol=None, quantity=Decimal(qty),
                    entry_price=Decimal(f"{s0:.2f}"), entry_date=sessions[entry], exit_date=ex_date,
                    exit_price=Decimal(f"{float(closes[und][exit_at]):.2f}") if ex_date else None,
                    investment_class="PUBLIC", investment_subtype="STOCK", option_type=None,
                    strike=None, expiration=None, multiplier=1))
        book.append((f"{name_prefix}-{p:04d}", rows))
    return book


def _closes(provider, symbols: list[str], start: date, end: date) -> dict[str, np.ndarray]:
    prices = provider.fetch(symbols, start, end).prices
    return {s: g.sort_values("price_date")["close"].to_numpy()
            for s, g in prices.groupby("symbol", sort=False)}


def store_book(engine, book: list[tuple[str, list]]) -> float:
    from ingest.portfolio_store import store_portfolio

    t0 = time.perf_counter()
    with engine.begin() as conn:
        for name, rows in book:
            store_portfolio(conn, name, rows)
    return round(time.perf_counter() - t0, 3)


def write_csv(path: Path, rows: list) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Symbol", "Quantity", "Entry Price Per Share", "Entry Date", "Investment Class",
                    "Investment Subtype", "Underlying Symbol", "Strike Price", "Expiration Date",
                    "Option Type", "Exit Date", "Exit Price Per Share"])
        for r in rows:
            opt = r.investment_class == "OPTIONS"
            w.writerow([r.symbol, r.quantity, r.entry_price, r.entry_date, r.investment_class,
                        r.investment_subtype or "", r.underlying_symbol or "",
                        r.strike if opt else "", r.expiration or "", r.option_type or "",
                        r.exit_date or "", r.exit_price or ""])


def onboarding_request(tmp: Path, k: int, args, symbols: list[str], first: date, day: date):
    """The k-th new portfolio of the book's shape as a CSV in ``tmp``, onboarded on day."""
    from flows.request import BatchRequest, OnboardingRequest

    _, rows = make_book(1, args.positions, symbols, first, day, args.seed + 100 + k, "new")[0]
    path = tmp / f"new-{k}.csv"
    write_csv(path, rows)
    return BatchRequest(kind="onboarding", as_of=day,
                        onboardings=[OnboardingRequest(str(path), f"onboarded-{k}")])


# ---------------------------------------------------------------- measuring

class DbtRecorder:
    """Wraps the dbt phase's dbt_build to keep every invocation's per-node timings."""

    def __init__(self) -> None:
        from flows.phases import dbt_build as phase

        self.phase = phase
        self.original = phase.dbt_build
        self.calls: list[Any] = []
        phase.dbt_build = self._build

    def _build(self, *args: Any, **kwargs: Any):
        result = self.original(*args, **kwargs)
        self.calls.append(result)
        return result

    def take(self) -> list[Any]:
        calls, self.calls = self.calls, []
        return calls


def node_seconds(calls: list[Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for c in calls:
        for node, s in getattr(c, "timings", {}).items():
            key = node.split(".", 2)[-1] if node.startswith("model.") else node.split(".")[-1]
            if node.startswith("test."):
                key = "tests"
            out[key] = round(out.get(key, 0.0) + s, 3)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def run_measured(label: str, fn: Callable[[], Any], recorder: DbtRecorder) -> dict:
    t0 = time.perf_counter()
    summary = fn()
    wall = round(time.perf_counter() - t0, 3)
    calls = recorder.take()
    if summary.status == "failed":
        raise RuntimeError(f"{label}: batch failed: {summary.error}")
    print(f"[scale] {label}: {wall:.1f} s {summary.timings}", file=sys.stderr, flush=True)
    out = {
        "wall_s": wall,
        # the machine's other work shows here (2 cores: above ~2 the run shared them)
        "load_average_1m_after": round(os.getloadavg()[0], 2),
        "as_of": summary.as_of.isoformat(),
        "status": summary.status,
        "timings_s": summary.timings,
        "chunks": len(summary.chunks),
        "rows": {
            "prices_rows_stored": summary.prices.get("rows_stored"),
            "price_requests": summary.prices.get("provider_requests"),
            "factors_rows_written": summary.factors.get("rows_written"),
            "factors_pairs_needed": summary.factors.get("pairs_needed"),
            "dbt": summary.dbt_rows,
        },
        "factors_timings_s": summary.factors.get("timings"),
        "risk_timings_s": summary.risk.get("timings"),
        "risk_dbt_node_s": summary.risk.get("dbt_node_s"),
        "shares": shares(wall, summary.timings, summary.risk),
        "checks_s": summary.checks.get("elapsed_s"),
        "dbt_node_s": node_seconds(calls),
    }
    print(f"[scale-json] {label} {json.dumps(out)}", file=sys.stderr, flush=True)
    return out


def shares(wall: float, timings: dict[str, float], risk: dict) -> dict[str, float]:
    """Each phase's share of the run's wall time, and the risk phase's correlation and
    stress work (numpy steps + their dbt models) as a share of the run and of the phase."""
    out = {f"{phase}_pct": round(100 * s / wall, 1) for phase, s in timings.items() if wall}
    steps = risk.get("timings") or {}
    nodes = risk.get("dbt_node_s") or {}
    corr_stress = (sum(steps.get(k, 0.0) for k in CORRELATION_STRESS_STEPS)
                   + sum(nodes.get(k, 0.0) for k in CORRELATION_STRESS_MODELS))
    out["correlation_and_stress_s"] = round(corr_stress, 3)
    if wall:
        out["correlation_and_stress_pct_of_run"] = round(100 * corr_stress / wall, 1)
    if timings.get("risk"):
        out["correlation_and_stress_pct_of_risk"] = round(100 * corr_stress / timings["risk"], 1)
    return out


def counts(engine) -> dict[str, int]:
    import sqlalchemy as sa

    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"select count(*) from marts.{t}")).scalar() for t in
                ("fct_position_values", "fct_portfolio_snapshots", "fct_position_factor_exposures",
                 "fct_portfolio_factor_exposures")} | {
            "raw.symbol_factor_betas": conn.execute(
                sa.text("select count(*) from raw.symbol_factor_betas")).scalar(),
            "raw.prices": conn.execute(sa.text("select count(*) from raw.prices")).scalar()}


BASELINE_SQL = """
create unlogged table {table} as
select
    pv.portfolio_id,
    pv.snapshot_date,
    p.initial_equity + sum(pv.cumulative_pnl) as equity,
    sum(greatest(pv.market_value, 0)) as long_value,
    sum(least(pv.market_value, 0)) as short_value,
    sum(abs(pv.market_value)) as gross_exposure,
    sum(pv.market_value) as net_exposure,
    p.initial_equity + sum(pv.cumulative_pnl) - sum(pv.market_value) as cash,
    sum(pv.daily_pnl) as daily_pnl,
    sum(pv.daily_pnl) / nullif(p.initial_equity + sum(pv.cumulative_pnl) - sum(pv.daily_pnl), 0)
        as daily_return,
    sum(pv.cumulative_pnl) as cumulative_pnl,
    count(*) filter (where pv.is_open)::int as position_count,
    bool_and(not (pv.is_open and pv.price_source = 'entry' and not pv.is_symbol_unavailable))
        as is_complete,
    p.initial_equity
from marts.fct_position_values pv
join (select portfolio_id, initial_equity::float8 as initial_equity from raw.portfolios) p
  on p.portfolio_id = pv.portfolio_id
where pv.snapshot_date <= :as_of
group by pv.portfolio_id, pv.snapshot_date, p.initial_equity
"""


def baseline(engine, as_of: date, dbt_snapshot_s: float, runs: int = 2) -> dict:
    """The same snapshot rows in one hand-written statement (best of `runs`)."""
    import sqlalchemy as sa

    times = []
    for i in range(runs):
        table = f"public.baseline_snapshots_{i}"
        with engine.begin() as conn:
            t0 = time.perf_counter()
            conn.execute(sa.text(BASELINE_SQL.format(table=table)), {"as_of": as_of})
            times.append(round(time.perf_counter() - t0, 3))
            n = conn.execute(sa.text(f"select count(*) from {table}")).scalar()
            if i:
                conn.execute(sa.text(f"drop table {table}"))
                continue
            diff = conn.execute(sa.text(f"""
                select count(*) from {table} b
                full join marts.fct_portfolio_snapshots s
                  on s.portfolio_id = b.portfolio_id and s.snapshot_date = b.snapshot_date
                where s.portfolio_id is null or b.portfolio_id is null
                   or abs(s.equity - b.equity) > 1e-6 * greatest(abs(s.equity), 1)
                   or s.position_count <> b.position_count or s.is_complete <> b.is_complete
                   or s.snapshot_date > :as_of"""),
                {"as_of": as_of}).scalar()
            conn.execute(sa.text(f"drop table {table}"))
    best = min(times)
    return {"hand_written_insert_select_s": times, "rows": n, "rows_differing_from_mart": diff,
            "dbt_fct_portfolio_snapshots_s": dbt_snapshot_s,
            "ratio_dbt_over_hand_written": round(dbt_snapshot_s / best, 2) if best else None}


def _range(values: list[float]) -> dict:
    return {"min": round(min(values), 3), "median": round(float(np.median(values)), 3),
            "max": round(max(values), 3), "runs": [round(v, 3) for v in values]}


# ---------------------------------------------------------------- scenarios

def run_book(args, first: date, label: str, recorder: DbtRecorder, *, onboarding: bool,
             prefect: bool) -> dict:
    from benchmarks._db import scratch_database
    from snapfolio.core import calendar

    as_of = date.fromisoformat(args.as_of)
    out: dict[str, Any] = {}
    with scratch_database(f"snapfolio_bench_scale_{label}", keep=args.keep_databases):
        from flows.batch import execute_batch
        from flows.request import BatchRequest
        from snapfolio.core.database import get_engine, resolve_url
        from snapfolio.core.settings import load_settings

        settings = load_settings()
        url = resolve_url(settings)
        engine = get_engine(settings)
        symbols = symbol_names(args.symbols)
        t0 = time.perf_counter()
        book = make_book(args.portfolios, args.positions, symbols, first, as_of, args.seed)
        out["generate_book_s"] = round(time.perf_counter() - t0, 3)
        out["store_book_s"] = store_book(engine, book)
        out["book"] = {"portfolios": len(book), "positions": sum(len(r) for _, r in book),
                       "options": sum(r.investment_class == "OPTIONS" for _, rows in book for r in rows),
                       "shorts": sum(r.quantity < 0 for _, rows in book for r in rows),
                       "exited": sum(r.exit_date is not None for _, rows in book for r in rows),
                       "first_entry": min(r.entry_date for _, rows in book for r in rows).isoformat(),
                       "sessions_to_as_of": len(calendar.sessions_between(first, as_of))}

        def batch(day: date, kind: str = "daily"):
            return lambda: execute_batch(BatchRequest(kind=kind, as_of=day), settings=settings)

        out["backfill"] = run_measured(f"{label} backfill", batch(as_of, "backfill"), recorder)
        out["rows_after_backfill"] = counts(engine)
        snap_s = out["backfill"]["dbt_node_s"].get("fct_portfolio_snapshots", 0.0)
        if label == "one_year":
            out["baseline"] = baseline(engine, as_of, snap_s)

        day = as_of
        daily = []
        for _ in range(args.daily_runs):
            day = calendar.next_session(day)
            daily.append(run_measured(f"{label} daily {day}", batch(day), recorder))
        out["daily"] = {"wall_s": _range([d["wall_s"] for d in daily]), "runs": daily}

        if onboarding:
            runs = []
            with tempfile.TemporaryDirectory() as tmp:
                for k in range(args.onboarding_runs):
                    req = onboarding_request(Path(tmp), k, args, symbols, first, day)
                    runs.append(run_measured(f"{label} onboarding {k}",
                                             lambda req=req: execute_batch(req, settings=settings),
                                             recorder))
            out["onboarding"] = {"wall_s": _range([r["wall_s"] for r in runs]), "runs": runs}

        if prefect:
            out["prefect"] = prefect_overhead(settings, engine, url, day, recorder)
        out["rows_final"] = counts(engine)
        engine.dispose()
    return out


def prefect_overhead(settings, engine, url, day: date, recorder: DbtRecorder,
                     runs: int = 2) -> dict:
    """The next daily increments through the Prefect flow (flows.flow.portfolio_batch on
    the warm local server), to compare with the plain daily runs: same code, plus the
    flow run, one task run per phase and the progress/summary artifacts."""
    from flows.prefect_server import ensure_prefect_server
    from snapfolio.core import calendar

    t0 = time.perf_counter()
    ensure_prefect_server(settings.home)
    from flows.flow import portfolio_batch

    server_s = round(time.perf_counter() - t0, 3)
    walls, phases = [], []
    for _ in range(runs):
        day = calendar.next_session(day)
        t0 = time.perf_counter()
        stats = portfolio_batch(as_of=day)
        walls.append(time.perf_counter() - t0)
        phases.append(round(sum(stats["timings"].values()), 3))
        print(f"[scale] prefect daily {day}: {walls[-1]:.1f} s {stats['timings']}",
              file=sys.stderr, flush=True)
    recorder.take()
    return {"server_ready_s": server_s,
            "daily_via_prefect_s": _range(walls),
            "daily_via_prefect_phases_sum_s": phases,
            "outside_phases_s": [round(w - p, 3) for w, p in zip(walls, phases)]}


def as_of_year(args) -> int:
    return date.fromisoformat(args.as_of).year


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portfolios", type=int, default=1000)
    parser.add_argument("--positions", type=int, default=20)
    parser.add_argument("--symbols", type=int, default=1200)
    parser.add_argument("--as-of", default="2025-12-31")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--daily-runs", type=int, default=3)
    parser.add_argument("--onboarding-runs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="small smoke size (20 × 10, 60 symbols)")
    parser.add_argument("--no-two-year", action="store_true")
    parser.add_argument("--no-prefect", action="store_true")
    parser.add_argument("--workers", default=None, metavar="1,2",
                        help="only compare W worker processes (each a shard's batch run) for "
                             "each W listed: backfill + --daily-runs increments "
                             "(benchmarks/workers.py)")
    parser.add_argument("--keep-databases", action="store_true",
                        help="keep the books' databases (their URLs are printed on stderr)")
    args = parser.parse_args()
    if args.quick:
        args.portfolios, args.positions, args.symbols, args.daily_runs = 20, 10, 60, 1
        args.onboarding_runs = 1
    os.environ.setdefault("SNAPFOLIO_PRICE_PROVIDER", "synthetic")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    started = time.perf_counter()
    if args.workers:
        from benchmarks.workers import compare_workers

        workers = [int(w) for w in args.workers.split(",")]
        result = {"benchmark": "scale-workers", "cpus": os.cpu_count(),
                  "database": "SNAPFOLIO_DATABASE_URL" if os.environ.get("SNAPFOLIO_DATABASE_URL")
                  else "embedded",
                  "size": {"portfolios": args.portfolios, "positions": args.positions,
                           "symbols": args.symbols, "as_of": args.as_of},
                  "load_average_before": os.getloadavg(),
                  **compare_workers(args, workers, date(as_of_year(args), 1, 1)),
                  "load_average_after": os.getloadavg(),
                  "process_total_s": round(time.perf_counter() - started, 3)}
        print(json.dumps(result, indent=2, default=str))
        return
    recorder = DbtRecorder()
    as_of = date.fromisoformat(args.as_of)
    one = run_book(args, date(as_of.year, 1, 1), "one_year", recorder, onboarding=True,
                   prefect=not args.no_prefect)
    result: dict[str, Any] = {
        "benchmark": "scale",
        "database": "SNAPFOLIO_DATABASE_URL" if os.environ.get("SNAPFOLIO_DATABASE_URL") else "embedded",
        "cpus": os.cpu_count(),
        "size": {"portfolios": args.portfolios, "positions": args.positions, "symbols": args.symbols,
                 "as_of": args.as_of},
        "one_year": one,
    }
    if not args.no_two_year:
        result["two_year"] = run_book(args, date(as_of.year - 1, 1, 1), "two_year", recorder,
                                      onboarding=False, prefect=False)
    daily_1y = one["daily"]["wall_s"]["median"]
    summary = {
        "backfill_s": one["backfill"]["wall_s"],
        "daily_s": one["daily"]["wall_s"],
        "onboarding_s": one["onboarding"]["wall_s"],
        "baseline_ratio": one["baseline"]["ratio_dbt_over_hand_written"],
        # per phase (risk included) and the correlation/stress share, of the backfill
        # and of the median daily increment
        "backfill_shares": one["backfill"]["shares"],
        "daily_shares": sorted((r for r in one["daily"]["runs"]),
                               key=lambda r: r["wall_s"])[len(one["daily"]["runs"]) // 2]["shares"],
    }
    if "two_year" in result:
        daily_2y = result["two_year"]["daily"]["wall_s"]["median"]
        summary["two_year_backfill_s"] = result["two_year"]["backfill"]["wall_s"]
        summary["two_year_daily_s"] = result["two_year"]["daily"]["wall_s"]
        summary["two_year_daily_added_pct"] = round(100 * (daily_2y / daily_1y - 1), 1)
    if "prefect" in one:
        summary["daily_via_prefect_s"] = one["prefect"]["daily_via_prefect_s"]
        summary["prefect_overhead_vs_plain_median_s"] = round(
            one["prefect"]["daily_via_prefect_s"]["median"] - daily_1y, 3)
    summary["targets"] = TARGETS
    summary["met"] = {
        "backfill": summary["backfill_s"] <= TARGETS["backfill_s"],
        "daily": summary["daily_s"]["max"] <= TARGETS["daily_s"],
        "daily_risk_issues_20s": summary["daily_s"]["max"] <= 20.0,
        "onboarding": summary["onboarding_s"]["max"] <= TARGETS["onboarding_s"],
        "baseline": (summary["baseline_ratio"] or 0) <= TARGETS["baseline_ratio"],
    }
    if "two_year_daily_added_pct" in summary:
        summary["met"]["two_year"] = summary["two_year_daily_added_pct"] <= TARGETS["two_year_daily_added_pct"]
    result["summary"] = summary
    result["process_total_s"] = round(time.perf_counter() - started, 3)
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
