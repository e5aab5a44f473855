"""The batch steps as plain functions: the Prefect flow wraps each one in a thin task,
and tests call them directly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from flows.faults import fault_point
from flows.locks import DBT_LOCK_KEY
from ingest import calendar
from ingest.portfolio_csv import parse_portfolio_csv
from ingest.portfolio_store import OnboardedPortfolio, store_portfolio
from ingest.price_store import IngestResult, fetch_plan, plan_prices, store_prices
from ingest.providers.base import PriceProvider
from ingest.providers.registry import provider_from_spec
from snapfolio.dbt_runner import (
    DbtResult,
    dbt_build,
    project_fingerprint,
    record_full_build,
    views_and_seeds_current,
    write_build_scope,
)
from snapfolio.settings import Settings


class UnknownPortfolioError(ValueError):
    """A --portfolio name that is not onboarded."""


def default_as_of() -> date:
    return calendar.last_completed_session()


def onboard_file(
    engine: Engine,
    path: Path,
    name: str,
    *,
    equity: Decimal | None = None,
    replace: bool = False,
) -> OnboardedPortfolio:
    """Validate the whole file first, then write it in one transaction."""
    rows = parse_portfolio_csv(path)
    with engine.begin() as conn:
        return store_portfolio(conn, name, rows, equity=equity, replace=replace, source_file=str(path))


def resolve_portfolios(engine: Engine, names: list[str] | None) -> dict[str, int]:
    """Names -> ids of the portfolios in scope (every active one when names is empty)."""
    with engine.connect() as conn:
        if names:
            found = dict(
                conn.execute(
                    sa.text("select name, portfolio_id from raw.portfolios where name = any(:n)"),
                    {"n": list(names)},
                ).all()
            )
            unknown = [n for n in names if n not in found]
            if unknown:
                raise UnknownPortfolioError(f"unknown portfolio: {', '.join(unknown)}")
            return {n: int(found[n]) for n in names}
        return {
            n: int(i)
            for n, i in conn.execute(
                sa.text("select name, portfolio_id from raw.portfolios where active order by portfolio_id")
            ).all()
        }


def price_provider(settings: Settings) -> PriceProvider:
    return provider_from_spec(settings.price_provider)


def ingest_prices(
    engine: Engine,
    settings: Settings,
    portfolio_ids: list[int],
    as_of: date,
    *,
    provider: PriceProvider | None = None,
    retry_unavailable: bool = False,
) -> IngestResult:
    """Plan → fetch (no transaction open while the network is slow) → store in one transaction."""
    from factors.definitions import factor_etfs, load_definitions, lookback_sessions

    definitions = load_definitions()
    provider = provider or price_provider(settings)
    with engine.connect() as conn:
        plan = plan_prices(
            conn,
            portfolio_ids,
            as_of,
            factor_symbols=factor_etfs(definitions),
            lookback_sessions=lookback_sessions(definitions),
            cooloff=timedelta(hours=settings.unavailable_cooloff_hours),
            retry_unavailable=retry_unavailable,
        )
    fetched = fetch_plan(provider, plan)
    fault_point("prices")  # crash-safety tests: killed between fetch and store
    with engine.begin() as conn:
        result = store_prices(conn, fetched, provider_name=provider.name,
                              max_move=settings.max_daily_move,
                              factor_symbols=factor_etfs(definitions),
                              lookback_sessions=lookback_sessions(definitions))
    result.plan = plan
    return result


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
) -> DbtResult:
    """`dbt build` under the global dbt lock, then advance the restatement marks it applied.

    The lock is a session advisory lock on a dedicated connection: a killed process
    releases it with its connection, so it can never stay stuck. A restatement mark
    moves past `as_of` once the sessions up to it are rebuilt (so a chunked backfill
    restates each session once) and is dropped when no stored session remains after it.
    """
    with engine.connect() as lock_conn:
        lock_conn.execute(sa.text("select pg_advisory_lock(:k)"), {"k": DBT_LOCK_KEY})
        try:
            fingerprint = project_fingerprint(settings.dbt_project_dir)
            with engine.begin() as conn:
                started = conn.scalar(sa.text("select clock_timestamp()"))
                write_build_scope(conn, as_of, portfolio_ids)
                # views and seeds are rebuilt only when the project changed: cheaper, and
                # no reader ever races a view being swapped
                current = views_and_seeds_current(conn, fingerprint)
            result = dbt_build(settings, url, full_refresh=full_refresh, data_tests=data_tests,
                               models_only=models_only or (current and not full_refresh))
            with engine.begin() as conn:
                _advance_restatements(conn, started, as_of, portfolio_ids)
                if not current:
                    record_full_build(conn, fingerprint)
            return result
        finally:
            lock_conn.execute(sa.text("select pg_advisory_unlock(:k)"), {"k": DBT_LOCK_KEY})
            lock_conn.commit()


def _advance_restatements(
    conn: sa.Connection, started: object, as_of: date, portfolio_ids: list[int] | None
) -> None:
    scope = {"t": started, "ids": list(portfolio_ids) if portfolio_ids else None}
    in_scope = ("marked_at <= :t and (cast(:ids as bigint[]) is null "
                "or portfolio_id = any(cast(:ids as bigint[])))")
    conn.execute(
        sa.text(f"update raw.restatements set from_date = :next where {in_scope} and from_date <= :a"),
        {**scope, "a": as_of, "next": calendar.next_session(as_of)},
    )
    conn.execute(
        sa.text(
            f"delete from raw.restatements r where {in_scope} and not exists ("
            "select 1 from marts.fct_portfolio_snapshots s "
            "where s.portfolio_id = r.portfolio_id and s.snapshot_date >= r.from_date)"
        ),
        scope,
    )



@dataclass
class BatchSummary:
    """What one batch did: the CLI prints it, `--json` emits it, run history stores it."""

    as_of: date
    portfolios: dict[str, int]
    kind: str = "daily"
    run_id: str | None = None
    status: str = "running"
    timings: dict[str, float] = field(default_factory=dict)
    prices: dict = field(default_factory=dict)
    factors: dict = field(default_factory=dict)
    checks: dict = field(default_factory=dict)
    chunks: list[str] = field(default_factory=list)
    dbt_rows: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    portfolio_states: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    onboarded: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    def as_stats(self) -> dict:
        """JSON-ready (dates as ISO strings) for raw.batch_runs.stats and `--json`."""
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        return out


def run_batch(
    engine: Engine,
    settings: Settings,
    url: URL,
    *,
    as_of: date | None = None,
    portfolio_names: list[str] | None = None,
    retry_unavailable: bool = False,
    provider: PriceProvider | None = None,
    kind: str = "daily",
) -> BatchSummary:
    """The batch flow's own sequence without the Prefect wrapper (tests inject a provider
    here); `flows.batch.portfolio_batch` runs exactly the same code as Prefect tasks."""
    from flows.batch import BatchRequest, execute_batch

    request = BatchRequest(kind=kind, as_of=as_of, portfolios=portfolio_names,
                           retry_unavailable=retry_unavailable)
    return execute_batch(request, settings=settings, provider=provider)
