"""Prices phase: plan -> fetch (no transaction open while the network is slow) -> store
in one transaction, for the symbols of the portfolios in scope and the factor ETFs."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from sqlalchemy.engine import Engine

from ingest.price_fetch import fetch_plan
from ingest.price_plan import entry_anchors, plan_prices
from ingest.price_store import IngestResult, store_prices
from ingest.providers import provider_stats, served_summary
from ingest.providers.base import PriceProvider
from ingest.providers.registry import provider_from_spec
from ingest.symbol_profiles import fetch_profiles_for_portfolios
from snapfolio.core.factor_definitions import factor_etfs, load_definitions, lookback_sessions
from snapfolio.core.faults import fault_point
from snapfolio.core.settings import Settings

log = logging.getLogger(__name__)


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
    """Fetch and store every missing (symbol, session) price the portfolios need."""
    definitions = load_definitions()
    etfs, lookback = factor_etfs(definitions), lookback_sessions(definitions)
    provider = provider or price_provider(settings)
    with engine.connect() as conn:
        _anchor_synthetic(provider, entry_anchors(conn, portfolio_ids))
        plan = plan_prices(
            conn, portfolio_ids, as_of, factor_symbols=etfs, lookback_sessions=lookback,
            cooloff=timedelta(hours=settings.unavailable_cooloff_hours),
            retry_unavailable=retry_unavailable,
        )
    fetched = fetch_plan(provider, plan)
    fault_point("prices")  # crash-safety tests: killed between fetch and store
    with engine.begin() as conn:
        result = store_prices(conn, fetched, provider_name=provider.name,
                              max_move=settings.max_daily_move,
                              factor_symbols=etfs, lookback_sessions=lookback)
    result.plan = plan
    result.profiles = fetch_profiles_for_portfolios(  # never raises: profiles never block
        engine, provider, portfolio_ids,
        cooloff=timedelta(hours=settings.unavailable_cooloff_hours)).as_stats()
    result.provider_stats = provider_stats(provider)
    if plan.requests and result.provider_stats:
        log.info("providers served: %s", served_summary(result.provider_stats))
    for symbol, reason in sorted({**result.unavailable, **plan.cooling_off}.items()):
        log.warning("symbol %s unavailable (%s): valued at last close or entry price",
                    symbol, reason)
    return result


def _anchor_synthetic(provider: PriceProvider, anchors: dict) -> None:
    """The synthetic provider (alone or in a chain) trades each symbol near its entry
    price on its entry date, so demo P&L is believable; real providers have no anchors."""
    for member in getattr(provider, "providers", None) or [provider]:
        set_anchors = getattr(member, "set_anchors", None)
        if callable(set_anchors):
            set_anchors(anchors)
