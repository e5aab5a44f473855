"""Checks phase: the Great Expectations checkpoint; its failures decide the run's status."""

from __future__ import annotations

import logging
from datetime import date

from expectations import run_checks
from snapfolio.core.settings import Settings

log = logging.getLogger(__name__)


def run_checks_phase(settings: Settings, as_of: date, ids: list[int], since: date | None,
                     run_id: str | None) -> dict:
    report = run_checks(settings, as_of=as_of, portfolio_ids=ids, since=since,
                        current_run_id=run_id)
    failed = [f"{r['name']}: {r['details']}" for r in report.results
              if not r["success"] and r["severity"] == "error"]
    warned = [f"{r['name']}: {r['details']}" for r in report.results
              if not r["success"] and r["severity"] != "error"]
    log.info("checks: %s (%d expectations, %.1fs); Data Docs %s", report.status,
             len(report.results), report.elapsed_s, report.data_docs_index)
    for line in failed + warned:
        log.warning("check failed: %s", line)
    return {"status": report.status, "failed": failed, "warned": warned,
            "data_docs": str(report.data_docs_index), "elapsed_s": round(report.elapsed_s, 3)}
