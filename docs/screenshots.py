"""Regenerate the Prefect UI screenshots in docs/: the run page of a real flow run with
its Logs tab (every phase's lines) and the run's results artifact.

    .venv/bin/python docs/screenshots.py [--out docs]

Onboards examples/portfolios/scott_yaphe_portfolio_5M.csv through `snapfolio onboard`
(synthetic prices, GGIPX and NEAIX unavailable, as the demo) into a throw-away
SNAPFOLIO_HOME — embedded PostgreSQL unless SNAPFOLIO_DATABASE_URL is set — opens the
home's own Prefect UI in headless Chromium (tests/chromium.py) and saves
prefect-run-logs.png and prefect-run-artifact.png; the servers are stopped afterwards.
tests/test_prefect_ui.py drives the same pages through `open_run_logs` and
`open_artifact`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.chromium import DevTools, launch

LAST_PHASE = "checks: "  # the gate's line: the last phase has logged, the list is complete


def open_page(cdp: DevTools, url: str, ready: str, timeout: float = 90) -> str:
    """Navigate and wait until the SPA has rendered `ready` (a JS expression); returns
    the page's text."""
    for domain in ("Network", "Runtime", "Page"):
        cdp.page(f"{domain}.enable")
    cdp.events.clear()  # this navigation's events only (load, requests)
    cdp.page("Page.navigate", url=url)
    cdp.wait_for("Page.loadEventFired")
    cdp.wait_until(ready, timeout=timeout)
    cdp.drain(1.0)  # late layout (fonts, the timeline canvas)
    return cdp.evaluate("document.body.innerText")


def _text_has(*needles: str) -> str:
    return " && ".join(f"document.body.innerText.includes({json.dumps(n)})" for n in needles)


def open_run_logs(cdp: DevTools, ui: str, flow_run_id: str) -> str:
    """The flow run's page on its Logs tab, oldest first, once the last phase's line shows."""
    return open_page(cdp, f"{ui}/runs/flow-run/{flow_run_id}?tab=Logs",
                     _text_has("Logs", LAST_PHASE))


def open_artifact(cdp: DevTools, ui: str, artifact_id: str, expect: str) -> str:
    """The results artifact's page, once its table shows `expect` (a portfolio name)."""
    return open_page(cdp, f"{ui}/artifacts/artifact/{artifact_id}",
                     f"document.querySelector('table') && {_text_has(expect)}")


def _post(api: str, path: str, body: dict) -> list[dict]:
    req = urllib.request.Request(f"{api}{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def latest_run(api: str) -> tuple[str, str]:
    """(flow run id, results artifact id) of the newest flow run on the server."""
    run = _post(api, "/flow_runs/filter", {"sort": "START_TIME_DESC", "limit": 1})[0]
    artifact = _post(api, "/artifacts/filter", {
        "artifacts": {"flow_run_id": {"any_": [run["id"]]}, "key": {"any_": ["batch-summary"]}},
        "limit": 1})[0]
    return run["id"], artifact["id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="snapfolio-shots-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(SNAPFOLIO_HOME=str(home), SNAPFOLIO_CHUNK_SESSIONS="100",
               SNAPFOLIO_PRICE_PROVIDER="synthetic:unavailable=GGIPX+NEAIX",
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    snapfolio = [sys.executable, "-m", "snapfolio"]
    csv = REPO / "examples" / "portfolios" / "scott_yaphe_portfolio_5M.csv"
    try:
        subprocess.run([*snapfolio, "onboard", str(csv), "--name", "scott_yaphe_portfolio_5M",
                        "--as-of", "2025-12-31"], env=env, check=True, cwd=REPO)
        port = (home / "prefect.port").read_text().strip()
        ui = f"http://127.0.0.1:{port}"
        flow_run_id, artifact_id = latest_run(f"{ui}/api")
        args.out.mkdir(parents=True, exist_ok=True)
        with launch(home / "chromium") as cdp:
            open_run_logs(cdp, ui, flow_run_id)
            (args.out / "prefect-run-logs.png").write_bytes(cdp.screenshot(1500, 2400))
            open_artifact(cdp, ui, artifact_id, "scott_yaphe_portfolio_5M")
            (args.out / "prefect-run-artifact.png").write_bytes(cdp.screenshot(1400, 900))
        print(f"wrote {args.out / 'prefect-run-logs.png'} and {args.out / 'prefect-run-artifact.png'}")
    finally:
        subprocess.run([*snapfolio, "stop"], env=env, check=False, cwd=REPO)


if __name__ == "__main__":
    main()
