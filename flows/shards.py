"""Scale-out on a Prefect work pool (DESIGN "Scale-out"): `snapfolio worker` polls a
process work pool; `snapfolio run --shards N` is a parent flow run that submits N child
runs of the batch deployment to that pool, each scoped to the portfolios whose id is
congruent to its shard number mod N, waits for all of them and reports each.

The child runs are the one batch flow (`flows.flow.portfolio_batch`) with a portfolio
scope, so a shard is an ordinary run: per-portfolio advisory locks keep concurrent runs
disjoint, and a failed shard's portfolios keep their gaps, which the next run fills.
The deployment's entrypoint is a module path, so every machine with snapfolio
installed loads the flow from its own installation (no code storage to configure).
The shards' dbt builds and risk phases run concurrently: run-scoped build state (scope
and risk work rows by build id, a build slot each), and only a project rebuild runs
alone (snapfolio/core/locks.py, flows/phases/dbt_build.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from typing import Any

from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.deployments import arun_deployment
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.types.entrypoint import EntrypointType
from prefect.workers.process import ProcessWorker

from flows.flow import portfolio_batch
from flows.phases.plan import resolve_portfolios
from snapfolio.core.database import get_engine

DEFAULT_POOL = "snapfolio"
MAX_SHARDS = 1_000


def deployment_name(pool: str) -> str:
    """The batch deployment on `pool` (one per pool: a deployment names its pool)."""
    return "batch" if pool == DEFAULT_POOL else f"batch-{pool}"


def shard_scopes(portfolios: dict[str, int], shards: int) -> list[list[str]]:
    """Portfolio names per shard: shard k holds the ids with id mod N == k (disjoint,
    stable while the book grows: a portfolio keeps its shard)."""
    scopes: list[list[str]] = [[] for _ in range(shards)]
    for name, pid in sorted(portfolios.items(), key=lambda item: item[1]):
        scopes[pid % shards].append(name)
    return scopes


async def ensure_work_pool(pool: str) -> None:
    """Create the process work pool if it is missing (two workers racing: one wins)."""
    async with get_client() as client:
        try:
            await client.read_work_pool(pool)
            return
        except ObjectNotFound:
            pass
        try:
            await client.create_work_pool(WorkPoolCreate(
                name=pool, type=ProcessWorker.type,
                base_job_template=ProcessWorker.get_default_base_job_template(),
                description="snapfolio batch shards (snapfolio worker --pool)"))
        except ObjectAlreadyExists:
            pass


async def register_batch_deployment(pool: str) -> str:
    """Register (or update) the batch deployment on `pool`; returns its full name."""
    await ensure_work_pool(pool)
    deployment = await portfolio_batch.ato_deployment(
        name=deployment_name(pool), work_pool_name=pool,
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="The batch flow scoped to one shard's portfolios (snapfolio run --shards).",
        tags=["snapfolio", "shard"])
    await deployment.aapply()
    return f"{portfolio_batch.name}/{deployment_name(pool)}"


async def serve_worker(pool: str, name: str | None = None, limit: int | None = None) -> None:
    """Poll `pool` and run its flow runs as subprocesses until stopped (Ctrl-C, SIGTERM)."""
    await register_batch_deployment(pool)
    async with ProcessWorker(work_pool_name=pool, name=name, limit=limit) as worker:
        await worker.start()


class ShardsFailedError(RuntimeError):
    """Some shard did not complete (the parent run ends failed); carries every result."""

    def __init__(self, results: list[dict]) -> None:
        failed = [str(r["shard"]) for r in results if r["state"] != "COMPLETED"]
        super().__init__(f"shard(s) {', '.join(failed)} did not complete")
        self.results = results


@dataclass
class ShardResult:
    shard: int
    portfolios: list[str]
    state: str
    duration_s: float | None
    flow_run_id: str | None
    worker: str | None

    @property
    def completed(self) -> bool:
        return self.state == "COMPLETED"


async def _run_shard(deployment: str, shard: int, shards: int, names: list[str],
                     parameters: dict[str, Any]) -> ShardResult:
    run = await arun_deployment(
        deployment, parameters={**parameters, "portfolios": names}, timeout=None,
        poll_interval=1, flow_run_name=f"shard {shard + 1}/{shards}", as_subflow=True,
        tags=["snapfolio", "shard"])
    state = run.state.type.value if run.state else "UNKNOWN"
    duration = (run.end_time - run.start_time).total_seconds() \
        if run.start_time and run.end_time else None
    return ShardResult(shard + 1, names, state, duration, str(run.id),
                       run.labels.get("prefect.worker.name"))


@flow(name="portfolio-batch-shards", log_prints=True, persist_result=False)
async def sharded_batch(shards: int, pool: str = DEFAULT_POOL, as_of: date | None = None,
                        portfolios: list[str] | None = None, kind: str = "daily",
                        retry_unavailable: bool = False) -> list[dict]:
    """Submit one child batch run per non-empty shard to `pool`, wait for all, and
    return each shard's result (a shard with no portfolios is not submitted); raises
    ShardsFailedError, carrying them all, when any shard did not complete."""
    deployment = await register_batch_deployment(pool)
    scope = resolve_portfolios(get_engine(), portfolios)
    parameters = {"as_of": as_of.isoformat() if as_of else None, "kind": kind,
                  "retry_unavailable": retry_unavailable}
    results = await asyncio.gather(*(
        _run_shard(deployment, k, shards, names, parameters)
        for k, names in enumerate(shard_scopes(scope, shards)) if names))
    for r in results:
        print(f"shard {r.shard}/{shards}: {r.state} ({len(r.portfolios)} portfolio(s), "
              f"worker {r.worker}, flow run {r.flow_run_id})")
    out = [r.__dict__ for r in results]
    if not all(r.completed for r in results):
        raise ShardsFailedError(out)
    return out
