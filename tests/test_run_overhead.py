"""The fixed costs removed from every run (issue #18 "Latency"), each shown to be gone
without losing what it was for. Their speed is measured by benchmarks/onboarding.py,
not asserted here; these tests check behaviour:

* Prefect's flow heartbeats still fire, but a run's end no longer joins the heartbeat
  thread (flows/prefect_heartbeats.py);
* a process's heap is frozen around its first run only (flows/heap.py);
* the progress artifact is updated at most once per interval and always at the end
  (flows/flow.py ProgressArtifact).

The GX declaration cache is tested with the gate (tests/test_expectations.py).
"""

from __future__ import annotations

import threading
import time
from uuid import UUID

import httpx


def _heartbeat_events(api_url: str, flow_run_id: UUID, timeout_s: float = 20.0) -> list[dict]:
    """The server's heartbeat events of one flow run (events land asynchronously)."""
    body = {"filter": {"event": {"name": ["prefect.flow-run.heartbeat"]},
                       "any_resource": {"id": [f"prefect.flow-run.{flow_run_id}"]}},
            "limit": 10}
    deadline = time.monotonic() + timeout_s
    while True:
        events = httpx.post(f"{api_url}/events/filter", json=body, timeout=10).json()["events"]
        if events or time.monotonic() > deadline:
            return events
        time.sleep(0.5)


def _runs(thread: threading.Thread) -> str:
    """The name of the function a thread runs (Prefect starts the heartbeat loop
    through a copied context: Context.run(heartbeat_loop))."""
    args = getattr(thread, "_args", ()) or ()
    target = args[0] if args else getattr(thread, "_target", None)
    return getattr(target, "__name__", "")


def test_flow_heartbeats_fire_without_holding_up_the_run_end(prefect_api, monkeypatch) -> None:
    from prefect import flow
    from prefect.context import FlowRunContext

    import flows.flow  # noqa: F401 - installs the heartbeat hook, as every entry point does
    from flows import prefect_heartbeats

    assert prefect_heartbeats.installed()
    seen: dict[str, object] = {}
    joined: list[str] = []
    original_join = threading.Thread.join

    def recording_join(self: threading.Thread, timeout: float | None = None) -> None:
        joined.append(_runs(self))
        original_join(self, timeout)

    @flow(name="heartbeat-probe", persist_result=False)
    def probe() -> None:
        context = FlowRunContext.get()
        assert context is not None and context.flow_run is not None
        seen["id"] = context.flow_run.id
        seen["beating"] = [t for t in threading.enumerate() if _runs(t) == "heartbeat_loop"]

    monkeypatch.setattr(threading.Thread, "join", recording_join)
    probe()
    monkeypatch.undo()
    assert seen["beating"], "no heartbeat thread ran during the flow"
    # Prefect's sync engine joins it (up to a second of waiting at each run end)
    assert "heartbeat_loop" not in joined
    assert _heartbeat_events(prefect_api, seen["id"]), "no heartbeat was emitted"  # type: ignore[arg-type]
    for thread in seen["beating"]:  # type: ignore[attr-defined]
        thread.join(timeout=3)
        assert not thread.is_alive()  # told to stop, it stops on its own


HEAP_PROBE = """
import gc, json, sys
from flows.heap import frozen_heap
out = {"before": gc.get_freeze_count()}
try:
    with frozen_heap():
        out["first_inside"] = gc.get_freeze_count()
        made_in_first_run = [[i] for i in range(1000)]
        raise RuntimeError("a phase failed")
except RuntimeError:
    pass
out["after_first"] = gc.get_freeze_count()
with frozen_heap():
    made_in_second_run = [[i] for i in range(1000)]
    out["second_inside"] = gc.get_freeze_count()
out["after_second"] = gc.get_freeze_count()
print(json.dumps(out))
"""


def test_heap_is_frozen_around_the_first_run_only() -> None:
    """In a fresh process (the state is per process): the first run freezes the heap
    at its start and, even when it fails, at its end; later runs change nothing (a
    heap unfrozen after each run, or frozen at each start, would carry one run's
    leftovers into the next: benchmarks measured the growth, flows/heap.py)."""
    import json
    import subprocess
    import sys

    from tests.conftest import REPO

    proc = subprocess.run([sys.executable, "-c", HEAP_PROBE], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=True)
    counts = json.loads(proc.stdout)
    assert counts["before"] == 0
    assert counts["first_inside"] > 0  # what the process held when its run started
    assert counts["after_first"] >= counts["first_inside"] + 900  # and what the run made (1,000 lists)
    assert counts["second_inside"] == counts["after_second"] == counts["after_first"]


def _artifact(api_url: str, artifact_id: object) -> dict:
    # the REST API directly: Prefect 3.8's client sends null paging to /artifacts/filter
    return httpx.get(f"{api_url}/artifacts/{artifact_id}", timeout=10).json()


def test_progress_artifact_updates_are_throttled_but_end_where_the_run_ended(prefect_api) -> None:
    from prefect import flow
    from prefect.artifacts import create_progress_artifact

    from flows.flow import ProgressArtifact

    @flow(name="progress-probe", persist_result=False)
    def probe() -> tuple[str, dict]:
        artifact = ProgressArtifact(create_progress_artifact(progress=0.0), interval_s=60.0)
        for done in range(1, 9):
            artifact.update(f"step {done}", done, 10)
        middle = _artifact(prefect_api, artifact.artifact_id)
        artifact.flush()
        return str(artifact.artifact_id), middle

    artifact_id, during = probe()
    stored = _artifact(prefect_api, artifact_id)
    assert during["data"] == 0.0  # eight steps inside the interval: not one API call
    assert stored["data"] == 80.0 and stored["description"] == "step 8 (8/10)"  # the end
