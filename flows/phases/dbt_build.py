"""dbt phase: `dbt build` of the accounting and exposure models for one chunk of
sessions, then the restatement marks it applied are advanced (ingest.restatements).

Nothing a build reads or writes is shared with a concurrent build of other portfolios
(another shard): its scope is its own raw.build_scope row (flows/dbt_runner.build_scope),
its working tables and dbt state are its slot's (`build_slot`), the marts' rows are its
portfolios'. What is serialized, and why (keys in snapfolio/core/locks.py):
* the project rebuild: views and seeds are rebuilt only when the project changed (or
  on a full refresh), and that build holds the dbt project lock exclusively; every
  other build holds it shared, so it never waits for another normal build, and no
  reader ever races a view being swapped;
* the start stamp: `started` (the marks made before it are the ones this build
  applies) is taken under its slot's stamp lock for an instant, so restatement
  writers in flight have committed and later ones stamp their marks after it;
* the slot: one build at a time per slot, a free one taken without waiting.
All are session or short transaction locks on PostgreSQL, released with a killed
process's connection, so nothing can stay stuck.
"""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy.engine import URL, Engine

from flows.dbt_runner import DbtResult, build_session, dbt_build, record_full_build
from ingest import restatements
from snapfolio.core.settings import Settings

log = logging.getLogger(__name__)


def build_marts(
    engine: Engine,
    settings: Settings,
    url: URL,
    as_of: date,
    portfolio_ids: list[int] | None,
    *,
    full_refresh: bool = False,
    data_tests: bool = True,
    models_only: bool = False,
    label: str = "",
) -> DbtResult:
    """Build the marts of `portfolio_ids` (None: all) through `as_of`; `label` names the
    chunk in the Prefect UI (e.g. "2025-01-06..2025-03-31")."""
    with build_session(engine, settings, as_of, portfolio_ids, exclusive=full_refresh) as build:
        # the risk marts are built by the risk phase, after its numpy step
        result = dbt_build(settings, url, full_refresh=full_refresh, data_tests=data_tests,
                           models_only=models_only or (build.current and not full_refresh),
                           exclude=["tag:risk"], build_id=build.build_id, slot=build.slot.name)
        with engine.begin() as conn:
            restatements.advance_after_build(conn, build.started, as_of, portfolio_ids)
            if not build.current:
                # a changed project (a stress scenario, the TLT duration, a risk model):
                # every stored risk row may have changed
                restatements.mark_all_risk(conn)
                record_full_build(conn, build.fingerprint)
        written = {k.split(".")[-1]: v for k, v in result.rows_affected.items()
                   if k.startswith("model.") and v > 0}
        log.info("dbt %s for %s portfolio(s): %.1fs, rows %s", label or as_of,
                 len(portfolio_ids) if portfolio_ids else "all", result.elapsed_s,
                 ", ".join(f"{k} {v}" for k, v in written.items()) or "none")
        return result


def sum_rows(total: dict[str, int], rows: dict[str, int]) -> dict[str, int]:
    """Rows affected per model, summed over the chunks of a run."""
    out = dict(total)
    for node, n in rows.items():
        if n >= 0 and node.startswith("model."):
            key = node.split(".")[-1]
            out[key] = out.get(key, 0) + n
    return out
