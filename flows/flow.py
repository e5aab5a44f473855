"""Prefect 3 wrapper of the batch: `portfolio_batch` is the one flow every entry point
runs (schedule, `snapfolio run`, `snapfolio onboard`, the demo, the UI's onboarding
deployment, backfills). Each phase is a task defined once, here, at module level (one
task run per phase and per dbt chunk, never per row); `flows.batch` holds the sequence.
"""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

from prefect import flow, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NONE
from prefect.context import FlowRunContext

from flows import prefect_heartbeats
from flows.batch import Phases, execute_batch
from flows.phases import checks, dbt_build, factors, onboard, prices, risk
from flows.prefect_server import package_logs_to_prefect
from flows.progress import ProgressCallback
from flows.request import BatchRequest, OnboardingRequest, absolute_path, inbox_file
from flows.results import portfolio_results
from flows.summary import BatchSummary
from snapfolio.core.database import get_engine
from snapfolio.core.settings import load_settings

prefect_heartbeats.install()  # a run's end no longer waits for the heartbeat thread

_TASK_OPTIONS = {"cache_policy": NONE, "persist_result": False, "log_prints": True}

# task runs named for what they do (Prefect's default adds a random suffix: `prices-4f6`)
TASKS = Phases(
    onboard=task(onboard.onboard, name="onboarding", task_run_name="onboarding {req.name}",
                 **_TASK_OPTIONS),
    prices=task(prices.ingest_prices, name="prices", task_run_name="prices", **_TASK_OPTIONS),
    factors=task(factors.compute_betas_phase, name="factors", task_run_name="factors",
                 **_TASK_OPTIONS),
    dbt=task(dbt_build.build_marts, name="dbt", task_run_name="dbt {label}", **_TASK_OPTIONS),
    risk=task(risk.run_risk, name="risk", task_run_name="risk", **_TASK_OPTIONS),
    checks=task(checks.run_checks_phase, name="checks", task_run_name="checks", **_TASK_OPTIONS),
)

_listeners: list[ProgressCallback] = []


class BatchFailedError(RuntimeError):
    """The run finished as `failed` (e.g. the data-quality gate); carries its summary."""

    def __init__(self, summary: BatchSummary) -> None:
        super().__init__(summary.error or "batch failed")
        self.summary = summary


def add_progress_listener(callback: ProgressCallback) -> None:
    """In-process listeners (the CLI's live progress bar) for the next flow runs."""
    _listeners.append(callback)


@flow(name="portfolio-batch", log_prints=True, persist_result=False)
def portfolio_batch(
    as_of: date | None = None,
    portfolios: list[str] | None = None,
    kind: str = "daily",
    csv_path: str | None = None,
    name: str | None = None,
    equity: float | None = None,
    replace: bool = False,
    retry_unavailable: bool = False,
    chunk_sessions: int | None = None,
    portfolio_files: dict[str, str] | None = None,
) -> dict:
    """Bring the scoped portfolios current through `as_of` (default: last NYSE close).

    kind="onboarding" with csv_path and name imports that portfolio first;
    `portfolio_files` (name -> CSV path) onboards several in the same run (the demo).
    """
    context = FlowRunContext.get()
    if context and context.flow_run and context.flow_run.deployment_id:
        # the UI / API: CSVs only from the inbox (the run's own context: no API call)
        inbox = load_settings().inbox
        csv_path = inbox_file(csv_path, inbox) if csv_path else None
        portfolio_files = {n: inbox_file(p, inbox) for n, p in (portfolio_files or {}).items()}
    onboardings = [OnboardingRequest(absolute_path(path), n, None, replace)
                   for n, path in (portfolio_files or {}).items()]
    if (kind == "onboarding" and not onboardings) or csv_path:
        if not (csv_path and name):
            raise ValueError("onboarding needs csv_path and name")
        onboardings.append(OnboardingRequest(
            absolute_path(csv_path), name, Decimal(str(equity)) if equity is not None else None,
            replace))
    request = BatchRequest(kind=kind, as_of=as_of, portfolios=portfolios,
                           retry_unavailable=retry_unavailable, onboardings=onboardings,
                           chunk_sessions=chunk_sessions)
    artifact = ProgressArtifact(create_progress_artifact(
        progress=0.0, description="snapfolio batch progress"))

    def on_progress(phase: str, done: int, total: int) -> None:
        artifact.update(phase, done, total)
        for listener in _listeners:
            listener(phase, done, total)

    try:
        with package_logs_to_prefect():  # every phase's log lines on the run page
            summary = execute_batch(request, phases=TASKS, on_progress=on_progress)
    finally:
        artifact.flush()  # where the run ended, even when it raised
    results = portfolio_results(get_engine(), sorted(summary.portfolios.values()), summary.as_of)
    create_markdown_artifact(summary_markdown(summary, results), key="batch-summary",
                             description=f"snapfolio run {summary.run_id}")
    if summary.status == "failed":
        raise BatchFailedError(summary)
    return summary.as_stats()


class ProgressArtifact:
    """The run's progress artifact, updated at most every `interval_s` (each update is
    an API call, ~15 ms: a short run's nine steps cost more than its prices phase)
    and always at the end (`flush`), so the UI shows where a long run is and where a
    short one ended."""

    def __init__(self, artifact_id: object, interval_s: float = 1.0) -> None:
        self.artifact_id = artifact_id
        self.interval_s = interval_s
        self._sent_at = time.monotonic()
        self._pending: tuple[str, int, int] | None = None

    def update(self, phase: str, done: int, total: int) -> None:
        self._pending = (phase, done, total)
        if time.monotonic() - self._sent_at >= self.interval_s:
            self.flush()

    def flush(self) -> None:
        if self._pending is None:
            return
        phase, done, total = self._pending
        update_progress_artifact(self.artifact_id,  # type: ignore[arg-type]
                                 progress=round(100.0 * done / max(total, 1), 1),
                                 description=f"{phase} ({done}/{total})")
        self._pending = None
        self._sent_at = time.monotonic()


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_{}[]<>()#+-.!|"})


def md(value: object) -> str:
    """A user string (portfolio name, symbol, reason) as literal markdown text."""
    return str(value).replace("\n", " ").translate(_MD_SPECIAL)


def _num(value: float | None, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def summary_markdown(summary: BatchSummary, results: list[dict] | None = None) -> str:
    """The run's results artifact: per portfolio its latest numbers and state, then the
    phases' timings, unavailable symbols, warnings and the error."""
    lines = [f"# snapfolio run `{summary.run_id}`: {summary.status}", "",
             f"as_of **{summary.as_of}**, kind {md(summary.kind)}", ""]
    states = summary.portfolio_states
    if results:
        lines += [("| portfolio | equity | daily P&L | vol 63d | VaR 95 | market beta | "
                  "worst stress | stress P&L | state |"),
                  "|---|---:|---:|---:|---:|---:|---|---:|---|"]
        lines += [f"| {md(r['name'])} | {_num(r.get('equity'), ',.2f')} | "
                  f"{_num(r.get('daily_pnl'), ',.2f')} | {_num(r.get('realized_vol_63d'), '.2%')} | "
                  f"{_num(r.get('var_95_1d'), '.2%')} | {_num(r.get('market_beta'), '.3f')} | "
                  f"{md(r.get('worst_stress_scenario') or '')} | "
                  f"{_num(r.get('worst_stress_pnl'), ',.0f')} | {md(states.get(r['name'], ''))} |"
                  for r in results]
    else:
        lines += ["| portfolio | id | state |", "|---|---:|---|"]
        lines += [f"| {md(n)} | {i} | {md(states.get(n, ''))} |"
                  for n, i in sorted(summary.portfolios.items())]
    lines += ["", "| phase | seconds |", "|---|---:|"]
    lines += [f"| {md(k)} | {v:.2f} |" for k, v in summary.timings.items()]
    if summary.skipped:
        lines += ["", "Skipped (held by another run): " + ", ".join(md(n) for n in summary.skipped)]
    if summary.failed_portfolios:
        lines += ["", "| failed portfolio | error |", "|---|---|"]
        lines += [f"| {md(n)} | {md(e)} |" for n, e in sorted(summary.failed_portfolios.items())]
    providers = (summary.prices or {}).get("providers") or {}
    if providers:
        header = "| price provider | symbols served | requests | retries | throttled s | skipped |"
        lines += ["", header, "|---|---:|---:|---:|---:|---|"]
        lines += [f"| {md(n)} | {c.get('symbols_served', 0)} | {c.get('requests', 0)} | "
                  f"{c.get('retries', 0)} | {c.get('throttled_seconds', 0)} | "
                  f"{md(c.get('skipped') or '')} |" for n, c in providers.items()]
    if summary.unavailable:
        lines += ["", "| unavailable symbol | reason |", "|---|---|"]
        lines += [f"| {md(s)} | {md(r)} |" for s, r in sorted(summary.unavailable.items())]
    if summary.warnings:
        lines += ["", "Warnings:", *[f"- {md(w)}" for w in summary.warnings]]
    if summary.notes:
        lines += ["", "Notes:", *[f"- {md(n)}" for n in summary.notes]]
    if summary.error:
        lines += ["", f"**Error:** {md(summary.error)}"]
    return "\n".join(lines)
