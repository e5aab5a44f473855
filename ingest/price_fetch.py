"""Price fetch: ask the provider for every planned range before anything is written."""

from __future__ import annotations

import logging
import time

from ingest.price_plan import PricePlan, PriceRequest
from ingest.providers.base import FetchResult, PriceProvider

log = logging.getLogger(__name__)


class Fetched(list[tuple[PriceRequest, FetchResult]]):
    """What fetch_plan got, with the wall time it took (for the run's stats)."""

    seconds: float = 0.0


def fetch_plan(provider: PriceProvider, plan: PricePlan) -> Fetched:
    """Ask the provider for every planned range before anything is written.

    One call per range (the provider batches symbols itself). A ProviderError
    propagates: the caller has written nothing yet, so a failed run leaves no trace.
    """
    started = time.perf_counter()
    fetched = Fetched((req, provider.fetch(list(req.symbols), req.start, req.end))
                      for req in plan.requests)
    fetched.seconds = time.perf_counter() - started
    log.info("fetched %d range(s) from %s: %d provider request(s), %d rows in %.2fs",
             len(fetched), provider.name, sum(r.requests for _, r in fetched),
             sum(len(r.prices) for _, r in fetched), fetched.seconds)
    return fetched


