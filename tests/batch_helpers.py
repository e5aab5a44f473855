"""Test helpers that call the flow's own code (no second code path).

`run_batch` is `flows.batch.execute_batch` with plain functions instead of Prefect
tasks (so a test can inject a price provider); `store_file` stores a portfolio CSV the
way the flow's onboarding phase does, without running a batch (tests onboard several
portfolios, then run once); `ingest_prices` is the prices phase itself.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy.engine import URL, Engine

from flows.batch import execute_batch
from flows.phases.prices import ingest_prices
from flows.request import BatchRequest
from flows.summary import BatchSummary
from ingest.portfolio_csv import parse_portfolio_csv
from ingest.portfolio_store import OnboardedPortfolio, store_portfolio
from ingest.providers.base import PriceProvider
from snapfolio.core.settings import Settings

__all__ = ["ingest_prices", "run_batch", "store_file"]


def store_file(engine: Engine, path: Path, name: str, *, equity: Decimal | None = None,
               replace: bool = False) -> OnboardedPortfolio:
    """Validate the whole file first, then write it in one transaction."""
    rows = parse_portfolio_csv(path)
    with engine.begin() as conn:
        return store_portfolio(conn, name, rows, equity=equity, replace=replace,
                               source_file=str(path))


def run_batch(engine: Engine, settings: Settings, url: URL, *, as_of: date | None = None,
              portfolio_names: list[str] | None = None, retry_unavailable: bool = False,
              provider: PriceProvider | None = None, kind: str = "daily") -> BatchSummary:
    """The batch flow's sequence without the Prefect wrapper."""
    del engine, url  # execute_batch resolves both from settings, like the flow
    request = BatchRequest(kind=kind, as_of=as_of, portfolios=portfolio_names,
                           retry_unavailable=retry_unavailable)
    return execute_batch(request, settings=settings, provider=provider)
