"""The one batch flow's sequence, as plain code: every entry point (schedule, CLI run,
onboarding, admin, backfill) is `execute_batch` with a different scope.

Read top to bottom it is the table of contents: validate -> lifecycle (reconcile,
start, heartbeat, locks, finish) -> onboard -> plan -> prices -> factors -> dbt chunks
-> risk -> checks. Each phase is a plain function in `flows.phases`; `phases` maps them to the
callables to run, which are the Prefect tasks (`flows.flow.TASKS`) in the flow and the
plain functions (`PLAIN`) in tests that inject a price provider.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL, Engine

from flows.dbt_runner import DbtBuildError
from flows.heap import frozen_heap
from flows.lifecycle import Run, batch_run
from flows.phases import checks, chunks, dbt_build, factors, onboard, plan, prices, risk
from flows.progress import ProgressCallback
from flows.request import BatchRequest
from flows.summary import BatchSummary
from ingest.input_limits import validate_as_of, validate_equity, validate_portfolio_name
from ingest.portfolio_csv import parse_portfolio_csv
from ingest.providers.base import PriceProvider
from snapfolio.core import calendar
from snapfolio.core.database import get_engine, resolve_url
from snapfolio.core.faults import fault_point
from snapfolio.core.settings import Settings, load_settings


@dataclass(frozen=True)
class Phases:
    """The callables each phase runs through (plain functions or Prefect tasks)."""

    onboard: Callable[..., Any] = onboard.onboard
    prices: Callable[..., Any] = prices.ingest_prices
    factors: Callable[..., Any] = factors.compute_betas_phase
    dbt: Callable[..., Any] = dbt_build.build_marts
    risk: Callable[..., Any] = risk.run_risk
    checks: Callable[..., Any] = checks.run_checks_phase


PLAIN = Phases()


def execute_batch(
    request: BatchRequest,
    *,
    settings: Settings | None = None,
    provider: PriceProvider | None = None,
    phases: Phases = PLAIN,
    on_progress: ProgressCallback | None = None,
) -> BatchSummary:
    """Bring the portfolios in scope current through `request.as_of`; returns the summary
    (also stored in raw.batch_runs). Raises on a phase error after recording the run."""
    # every input is validated before anything is written (not even a run row)
    settings = settings or load_settings()
    for o in request.onboardings:
        validate_portfolio_name(o.name)
        if o.equity is not None:
            validate_equity(o.equity)
    files = [parse_portfolio_csv(o.csv_path) for o in request.onboardings]
    as_of = validate_as_of(request.as_of, "as_of") or plan.default_as_of()
    url = resolve_url(settings)
    engine = get_engine(settings)
    with frozen_heap(), batch_run(engine, request.kind, request.scope(), as_of,
                                  on_progress) as run:
        timed = _timer(run.summary.timings)
        stored = []
        for i, (req, rows) in enumerate(zip(request.onboardings, files, strict=True)):
            run.progress.set("onboarding", done=i, total=len(files))
            stored.append(timed("onboarding", phases.onboard, engine, run, req, rows))
        if stored:
            run.summary.onboarded = stored[0] if len(stored) == 1 else {"portfolios": stored}
        run.progress.set("scope")
        ids = plan.lock_scope(engine, run, request.names_in_scope())
        if not ids:
            run.summary.warnings.append("no portfolios to process")
        else:
            _run_phases(request, settings, engine, url, provider, ids, as_of, phases, timed, run)
    return run.summary


def _run_phases(request: BatchRequest, settings: Settings, engine: Engine, url: URL,
                provider: PriceProvider | None, ids: list[int], as_of: Any, phases: Phases,
                timed: Callable[..., Any], run: Run) -> None:
    summary, progress = run.summary, run.progress
    start = plan.earliest_gap(engine, ids, as_of)
    ends = chunks.plan_chunks(engine, ids, start, as_of, row_budget=settings.chunk_rows,
                              max_sessions=request.chunk_sessions or settings.chunk_sessions)
    progress.set("prices", done=0, total=4 + max(len(ends), 1))
    result = timed("prices", phases.prices, engine, settings, ids, as_of, provider=provider,
                   retry_unavailable=request.retry_unavailable)
    summary.prices = result.as_stats()
    for symbol, reason in {**result.unavailable, **result.plan.cooling_off}.items():
        summary.unavailable[symbol] = reason
        summary.warnings.append(
            f"symbol {symbol} unavailable ({reason}): valued at last close or entry price")
    for name, counters in result.provider_stats.items():
        if counters.get("skipped"):
            summary.warnings.append(f"price provider {name} skipped for this run: "
                                    f"{counters['skipped']}")
    for r in result.rejected:
        summary.warnings.append(
            f"price rejected: {r.symbol} {r.price_date} {r.close:g} ({r.reason})")
    unclassified = (result.profiles or {}).get("unclassified") or {}
    if unclassified:
        shown = ", ".join(sorted(unclassified)[:20]) + (" …" if len(unclassified) > 20 else "")
        summary.notes.append(f"{len(unclassified)} symbol(s) without a sector (Unclassified in "
                             f"sector exposures): {shown}; set them with `snapfolio symbols load`")

    progress.step("factors")
    fault_point("factors")
    summary.factors = timed("factors", phases.factors, engine, ids, as_of)

    progress.step("dbt")
    plan.mark_risk_work(engine, ids, as_of)
    summary.chunks = [d.isoformat() for d in ends]
    first = start or as_of
    for i, end in enumerate(ends or [as_of], start=1):
        final = i == max(len(ends), 1)
        fault_point("dbt", delay_s=1.0)
        run.locks.verify(ids)
        ids = _build_isolating_failures(
            lambda scope, label, i=i, end=end, final=final: timed(
                "dbt", phases.dbt, engine, settings, url, end, scope, data_tests=final,
                models_only=i > 1, label=label),
            ids, f"{first}..{end}", summary)
        fault_point(f"chunk:{i}")
        progress.step(f"dbt chunk {i}/{len(ends)} through {end}")
        first = calendar.next_session(end)
        if not ids:
            return
    summary.notes.extend(plan.final_session_notes(engine, ids, as_of))

    progress.step("risk")
    fault_point("risk")
    run.locks.verify(ids)
    summary.risk = timed("risk", phases.risk, engine, settings, url, ids, as_of)

    progress.set("checks")
    fault_point("checks")
    summary.checks = timed("checks", phases.checks, settings, as_of, ids, start or as_of,
                           summary.run_id)
    for failure in summary.checks.get("warned", []):
        summary.warnings.append(f"data-quality warning: {failure}")
    progress.set("finishing", done=progress.total)


def _build_isolating_failures(build: Callable[[list[int], str], Any], ids: list[int],
                              label: str, summary: BatchSummary) -> list[int]:
    """Build a chunk for `ids`; when the build fails, retry it on halves of the scope
    until each failing portfolio is alone, so one portfolio's bad data never stops the
    book. Returns the ids that built; the culprits land in summary.failed_portfolios
    (the run ends `failed` naming each; the next run retries them)."""
    try:
        result = build(ids, label if len(ids) == len(summary.portfolios) else
                       f"{label} ({len(ids)} portfolio(s))")
    except DbtBuildError as exc:
        if len(ids) == 1:
            name = next((n for n, i in summary.portfolios.items() if i == ids[0]), str(ids[0]))
            summary.failed_portfolios[name] = str(exc).splitlines()[0][:500]
            return []
        half = len(ids) // 2
        return (_build_isolating_failures(build, ids[:half], label, summary)
                + _build_isolating_failures(build, ids[half:], label, summary))
    summary.dbt_rows = dbt_build.sum_rows(summary.dbt_rows, result.rows_affected)
    return ids


def _timer(timings: dict[str, float]) -> Callable[..., Any]:
    """Call a phase and add its wall time to `timings[name]` (chunks add up)."""

    def timed(name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - t0, 3)

    return timed
