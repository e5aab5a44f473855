"""The one batch flow: every entry point (schedule, CLI run, onboarding, backfill) is
`portfolio_batch` with a different scope, never a separate code path.

`execute_batch` holds the whole sequence as plain code; each phase goes through
`run_phase`, which is a Prefect task in the flow and a plain call in `pipeline.run_batch`
(used by tests that inject a price provider). Run history is committed synchronously,
locks are PostgreSQL advisory locks on a dedicated connection, and the run row is
finished in `finally`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from flows import run_history
from flows.faults import fault_point
from flows.locks import LockSession
from ingest import calendar
from ingest.portfolio_csv import parse_portfolio_csv
from ingest.portfolio_store import store_portfolio
from ingest.providers.base import PriceProvider
from snapfolio import pipeline
from snapfolio.pipeline import BatchSummary
from snapfolio.settings import Settings, load_settings

T = TypeVar("T")
PhaseRunner = Callable[..., Any]
ProgressCallback = Callable[[str, int, int], None]


def plain_runner(name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return fn(*args, **kwargs)


@dataclass
class OnboardingRequest:
    csv_path: str
    name: str
    equity: Decimal | None = None
    replace: bool = False


@dataclass
class BatchRequest:
    kind: str = "daily"  # daily | onboarding | backfill
    as_of: date | None = None
    portfolios: list[str] | None = None
    retry_unavailable: bool = False
    onboarding: OnboardingRequest | None = None
    chunk_sessions: int | None = None

    def scope(self) -> dict:
        return {"portfolios": self.portfolios or "all",
                "onboarding": self.onboarding.name if self.onboarding else None}


@dataclass
class _Progress:
    engine: Engine
    run_id: str
    callback: ProgressCallback | None
    done: int = 0
    total: int = 1
    started: float = field(default_factory=time.perf_counter)

    def set(self, phase: str, *, done: int | None = None, total: int | None = None) -> None:
        self.done = self.done if done is None else done
        self.total = self.total if total is None else total
        run_history.update_run(self.engine, self.run_id, phase=phase,
                               progress={"phase": phase, "done": self.done, "total": self.total,
                                         "unit": "steps"})
        if self.callback:
            self.callback(phase, self.done, self.total)

    def step(self, phase: str) -> None:
        self.set(phase, done=self.done + 1)


_FIRST_GAP_SQL = """
with first_entries as (
    select portfolio_id, min(entry_date) as first_entry from raw.positions
    where portfolio_id = any(:ids) group by portfolio_id
),
bounds as (
    select
        first_entries.*,
        (select t.session_date from raw.trading_sessions t
         where t.session_date >= first_entries.first_entry
         order by t.session_date limit 1) as first_session
    from first_entries
),
done as (
    -- complete snapshots per portfolio: one aggregate, not a probe per session
    select s.portfolio_id, count(*) as n, min(s.snapshot_date) as lo, max(s.snapshot_date) as hi
    from marts.fct_portfolio_snapshots s
    join first_entries on first_entries.portfolio_id = s.portfolio_id
    where s.is_complete and s.snapshot_date >= first_entries.first_entry and s.snapshot_date <= :a
    group by s.portfolio_id
),
gaps as (
    select case
        when done.portfolio_id is null then bounds.first_session
        -- done sessions without a hole from the first one: the gap is the next session
        when done.lo = bounds.first_session
         and (select session_index from raw.trading_sessions where session_date = done.hi)
           - (select session_index from raw.trading_sessions where session_date = done.lo)
           + 1 = done.n
            then (select t.session_date from raw.trading_sessions t
                  where t.session_date > done.hi order by t.session_date limit 1)
        -- a hole: probe that portfolio's sessions one by one
        else (select min(t.session_date) from raw.trading_sessions t
              where t.session_date >= bounds.first_entry and t.session_date <= :a
                and not exists (select 1 from marts.fct_portfolio_snapshots s
                                where s.portfolio_id = bounds.portfolio_id
                                  and s.snapshot_date = t.session_date and s.is_complete))
    end as gap
    from bounds
    left join done on done.portfolio_id = bounds.portfolio_id
)
select min(gap) from gaps where gap <= :a
"""


def earliest_gap(engine: Engine, portfolio_ids: list[int], as_of: date) -> date | None:
    """The first session any portfolio in scope still needs (no complete snapshot, or restated)."""
    with engine.connect() as conn:
        marts = conn.execute(sa.text("select to_regclass('marts.fct_portfolio_snapshots')")).scalar()
        if marts:
            gap = conn.execute(sa.text(_FIRST_GAP_SQL), {"ids": portfolio_ids, "a": as_of}).scalar()
        else:
            gap = conn.execute(sa.text(
                "select min(t.session_date) from raw.trading_sessions t "
                "where t.session_date <= :a and t.session_date >= "
                "(select min(entry_date) from raw.positions where portfolio_id = any(:ids))"),
                {"ids": portfolio_ids, "a": as_of}).scalar()
        restated = conn.execute(sa.text(
            "select min(from_date) from raw.restatements where portfolio_id = any(:ids)"),
            {"ids": portfolio_ids}).scalar()
    candidates = [d for d in (gap, restated) if d is not None and d <= as_of]
    return min(candidates) if candidates else None


def chunk_ends(start: date | None, as_of: date, chunk_sessions: int) -> list[date]:
    """Session-range chunk boundaries from the earliest gap to as_of (each chunk committed)."""
    if start is None:
        return []
    sessions = calendar.sessions_between(start, as_of)
    ends = sessions[chunk_sessions - 1::chunk_sessions]
    if not ends or ends[-1] != sessions[-1]:
        ends.append(sessions[-1])
    return ends


def execute_batch(
    request: BatchRequest,
    *,
    settings: Settings | None = None,
    provider: PriceProvider | None = None,
    run_phase: PhaseRunner = plain_runner,
    on_progress: ProgressCallback | None = None,
) -> BatchSummary:
    from snapfolio.database import get_engine, resolve_url

    settings = settings or load_settings()
    url = resolve_url(settings)
    engine = get_engine(settings)
    rows = parse_portfolio_csv(request.onboarding.csv_path) if request.onboarding else None
    as_of = request.as_of or pipeline.default_as_of()
    timings: dict[str, float] = {}
    summary = BatchSummary(as_of=as_of, portfolios={}, timings=timings, kind=request.kind)

    def phase(name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        t0 = time.perf_counter()
        try:
            return run_phase(name, fn, *args, **kwargs)
        finally:
            timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - t0, 3)

    crashed = run_history.reconcile_stale_runs(engine)
    run_id = run_history.start_run(engine, request.kind, request.scope(), as_of)
    summary.run_id = run_id
    if crashed:
        summary.warnings.append(f"reconciled crashed runs: {', '.join(crashed)}")
    locks = LockSession(engine)
    progress = _Progress(engine, run_id, on_progress)
    status, error = "failed", None
    try:
        with run_history.Heartbeat(engine, run_id):
            locks.lock_run(run_id)
            if request.onboarding:
                progress.set("onboarding", total=1)
                _onboard(engine, locks, request.onboarding, rows, summary)
            progress.set("scope")
            _lock_scope(engine, locks, request, summary)
            ids = sorted(summary.portfolios.values())
            if not ids:
                summary.warnings.append("no portfolios to process")
            else:
                _run_phases(request, settings, engine, url, provider, ids, as_of, phase,
                            progress, summary)
        status = "completed_with_warnings" if summary.warnings else "completed"
        if summary.checks and summary.checks.get("status") == "failed":
            status = "failed"
            error = "data-quality gate failed: " + "; ".join(summary.checks.get("failed", []))
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}".splitlines()[0][:2000]
        raise
    finally:
        summary.status = status
        summary.error = error
        final_state = f"current through {as_of}" if status != "failed" else "failed"
        summary.portfolio_states.update({n: final_state for n in summary.portfolios})
        try:
            run_history.finish_run(engine, run_id, status, error_summary=error,
                                   stats=summary.as_stats())
        finally:
            locks.close()
    return summary


def _onboard(engine: Engine, locks: LockSession, req: OnboardingRequest, rows: list,
             summary: BatchSummary) -> None:
    """Store the portfolio and lock it before its insert commits, so no other run can
    grab a half-onboarded portfolio."""
    with engine.begin() as conn:
        existing = conn.execute(sa.text("select portfolio_id from raw.portfolios where name = :n"),
                                {"n": req.name}).scalar()
        if existing is not None and req.replace:
            _, held = locks.try_lock_portfolios([int(existing)])
            if held:
                raise RuntimeError(f"portfolio {req.name!r} is being processed by another run; "
                                   "try again when it finishes")
        onboarded = store_portfolio(conn, req.name, rows, equity=req.equity, replace=req.replace,
                                    source_file=str(req.csv_path))
        locks.try_lock_portfolios([onboarded.portfolio_id])
    summary.onboarded = {"name": req.name, "portfolio_id": onboarded.portfolio_id,
                         "positions": onboarded.positions,
                         "initial_equity": float(onboarded.initial_equity),
                         "equity_source": onboarded.equity_source, "replaced": onboarded.replaced}


def _lock_scope(engine: Engine, locks: LockSession, request: BatchRequest,
                summary: BatchSummary) -> None:
    names = [request.onboarding.name] if request.onboarding else request.portfolios
    scope = pipeline.resolve_portfolios(engine, names)
    acquired, held = locks.try_lock_portfolios(list(scope.values()))
    by_id = {v: k for k, v in scope.items()}
    summary.portfolios = {by_id[i]: i for i in acquired}
    summary.skipped = sorted(by_id[i] for i in held)
    for name in summary.skipped:
        summary.warnings.append(f"portfolio {name} skipped: another run is processing it")
    summary.portfolio_states = {**{n: "processing" for n in summary.portfolios},
                                **{n: "skipped (held by another run)" for n in summary.skipped}}
    run_history.update_run(engine, summary.run_id,
                           stats={"portfolio_states": summary.portfolio_states})


def _run_phases(request: BatchRequest, settings: Settings, engine: Engine, url: URL,
                provider: PriceProvider | None, ids: list[int], as_of: date,
                phase: Callable[..., Any], progress: _Progress, summary: BatchSummary) -> None:
    from factors.store import compute_factor_betas

    start = earliest_gap(engine, ids, as_of)
    ends = chunk_ends(start, as_of, request.chunk_sessions or settings.chunk_sessions)
    progress.set("prices", done=0, total=3 + max(len(ends), 1))
    prices = phase("prices", _prices_phase, engine, settings, ids, as_of, provider,
                   request.retry_unavailable)
    summary.prices = prices.as_stats()
    for symbol, reason in {**prices.unavailable, **prices.plan.cooling_off}.items():
        summary.unavailable[symbol] = reason
        summary.warnings.append(f"symbol {symbol} unavailable ({reason}): valued at last close or entry price")
    for r in prices.rejected:
        summary.warnings.append(f"price rejected: {r.symbol} {r.price_date} {r.close:g} ({r.reason})")
    progress.step("factors")
    fault_point("factors")
    summary.factors = phase("factors", compute_factor_betas, engine, ids, as_of).as_stats()
    progress.step("dbt")
    summary.chunks = [d.isoformat() for d in ends]
    for i, end in enumerate(ends or [as_of], start=1):
        final = i == max(len(ends), 1)
        fault_point("dbt", delay_s=1.0)
        result = phase("dbt", pipeline.build_marts, engine, settings, url, end, ids,
                       data_tests=final, models_only=i > 1)
        summary.dbt_rows = _sum_rows(summary.dbt_rows, result.rows_affected)
        fault_point(f"chunk:{i}")
        progress.step(f"dbt chunk {i}/{len(ends)} through {end}")
    progress.set("checks")
    fault_point("checks")
    summary.checks = phase("checks", _checks_phase, settings, as_of, ids, start or as_of,
                           summary.run_id)
    for failure in summary.checks.get("warned", []):
        summary.warnings.append(f"data-quality warning: {failure}")
    progress.set("finishing", done=progress.total)


def _prices_phase(engine: Engine, settings: Settings, ids: list[int], as_of: date,
                  provider: PriceProvider | None, retry_unavailable: bool):
    return pipeline.ingest_prices(engine, settings, ids, as_of, provider=provider,
                                  retry_unavailable=retry_unavailable)


def _checks_phase(settings: Settings, as_of: date, ids: list[int], since: date | None,
                  run_id: str | None) -> dict:
    """The Great Expectations checkpoint; its failures decide the run's final status."""
    from expectations import run_checks

    report = run_checks(settings, as_of=as_of, portfolio_ids=ids, since=since, current_run_id=run_id)
    failed = [f"{r['name']}: {r['details']}" for r in report.results
              if not r["success"] and r["severity"] == "error"]
    warned = [f"{r['name']}: {r['details']}" for r in report.results
              if not r["success"] and r["severity"] != "error"]
    return {"status": report.status, "failed": failed, "warned": warned,
            "data_docs": str(report.data_docs_index), "elapsed_s": round(report.elapsed_s, 3)}


def _sum_rows(total: dict[str, int], rows: dict[str, int]) -> dict[str, int]:
    out = dict(total)
    for node, n in rows.items():
        if n >= 0 and node.startswith("model."):
            key = node.split(".")[-1]
            out[key] = out.get(key, 0) + n
    return out


def absolute_path(value: str | Path) -> str:
    return str(Path(value).expanduser().resolve())
