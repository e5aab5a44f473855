"""The Prefect story as a user sees it: a real onboarding run through the session's local
Prefect server (`snapfolio onboard`, real dbt and GX), read back through the Prefect API
(every phase's log lines on its own task run, readable task run names, the results
artifact), then the UI itself in headless Chromium: the run page's Logs tab, the
artifact page, and the Deployments page of a server on a non-default port while another
server runs (the UI must talk to its own API).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from docs.screenshots import open_artifact, open_page, open_run_logs
from tests.chromium import pytest_browser
from tests.conftest import EXAMPLES, REPO

NAME = "prefect_ui_small"
AS_OF = "2024-12-31"
CHUNK = 50  # 147 sessions from the 2024-06-03 entry: three chunks of 50, 50 and 47
CHUNKS = ["2024-06-03..2024-08-13", "2024-08-14..2024-10-23", "2024-10-24..2024-12-31"]


@dataclass
class FlowRun:
    id: str
    ui: str
    task_names: dict[str | None, str]  # task_run_id -> name (None: the flow itself)
    logs: list[dict]  # message, task (its run name or None), logger
    artifact: dict


def _api_env() -> dict[str, str]:
    return {**os.environ, "SNAPFOLIO_PRICE_PROVIDER": "synthetic:unavailable=DIS",
            "SNAPFOLIO_CHUNK_SESSIONS": str(CHUNK)}


async def _read_back(api: str, name: str) -> FlowRun:
    """Through Prefect's own client. (Prefect 3.8's client sends `null` for unset limits
    and filters, which this server's FastAPI rejects, so they are given explicitly.)"""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.client.schemas.objects import Artifact
    from prefect.client.schemas.sorting import FlowRunSort, LogSort, TaskRunSort
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}):
        async with get_client() as client:
            runs = await client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=200)
            run = next(r for r in runs if r.parameters.get("name") == name)
            tasks = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC, limit=200)
            names: dict[str | None, str] = {str(t.id): t.name for t in tasks}
            log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id]))
            logs: list = []
            for _ in range(60):  # the CLI's log worker flushes at exit; allow for it
                logs = await client.read_logs(log_filter=log_filter, limit=200, offset=0,
                                              sort=LogSort.TIMESTAMP_ASC)
                if any(x.message.startswith("checks: ") for x in logs):
                    break
                await asyncio.sleep(0.5)
            # read_artifacts always joins task runs (its flow-level artifacts vanish): the
            # same endpoint through the client's own HTTP session
            found = await client.request("POST", "/artifacts/filter", json={
                "artifacts": {"flow_run_id": {"any_": [str(run.id)]}}, "limit": 50})
            artifacts = [Artifact.model_validate(a) for a in found.json()]
    summary = next(a for a in artifacts if a.key == "batch-summary")
    return FlowRun(
        id=str(run.id), ui=api.removesuffix("/api"), task_names=names,
        logs=[{"message": x.message, "task": names.get(str(x.task_run_id)) if x.task_run_id
               else None, "logger": x.name} for x in logs],
        artifact={"id": str(summary.id), "type": summary.type, "data": summary.data,
                  "description": summary.description})


@pytest.fixture(scope="module")
def flow_run(test_database, prefect_api) -> FlowRun:
    test_database.reset()
    proc = subprocess.run([sys.executable, "-m", "snapfolio", "onboard",
                           str(EXAMPLES / "small_test_portfolio.csv"), "--name", NAME,
                           "--as-of", AS_OF], env=_api_env(), capture_output=True, text=True,
                          timeout=900, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return asyncio.run(_read_back(prefect_api, NAME))


def _one(run: FlowRun, prefix: str, task: str | None, contains: str = "") -> str:
    found = [x for x in run.logs if x["message"].startswith(prefix) and contains in x["message"]]
    assert len(found) == 1, (prefix, [x["message"] for x in run.logs])
    assert found[0]["task"] == task, found[0]  # logged on its own task run
    return found[0]["message"]


def _int(pattern: str, text: str) -> int:
    match = re.search(pattern, text)
    assert match, (pattern, text)
    return int(match.group(1).replace(",", ""))


def test_task_runs_carry_readable_names(flow_run) -> None:
    assert sorted(flow_run.task_names.values()) == sorted(
        [f"onboarding {NAME}", "prices", "factors", *(f"dbt {c}" for c in CHUNKS), "risk",
         "checks"])


def test_every_phase_logs_what_it_did_on_its_task_run(flow_run, test_database) -> None:
    db = test_database
    pid = db.scalar("select portfolio_id from raw.portfolios where name = :n", n=NAME)

    onboarded = _one(flow_run, "onboarding: ", f"onboarding {NAME}")
    assert f"stored {NAME} (id {pid})" in onboarded
    assert _int(r"(\d+) position\(s\)", onboarded) == db.scalar(
        "select count(*) from raw.positions where portfolio_id = :p", p=pid) == 3
    # Σ |q × entry| of the CSV: 25 × 250 + 40 × 95 + 15 × 720
    assert "initial equity 20,850.00 (derived)" in onboarded

    assert _one(flow_run, "plan: 1 portfolio(s) in scope", None).endswith(f"({NAME})")
    assert _one(flow_run, "plan: 147 session(s)", None) == (
        f"plan: 147 session(s) to build, 2024-06-03..{AS_OF}, in 3 chunk(s) of up to {CHUNK}")

    plan = _one(flow_run, "price plan as_of ", "prices")
    assert "11 symbols in scope (COST, DIS, IWM, MTUM, QUAL, SPY, TLT, TSLA, USMV, VTV, VUG)" in plan
    fetched = _one(flow_run, "fetched ", "prices", contains=" range(s) from synthetic")
    stored = _one(flow_run, "stored ", "prices", contains=" price row(s) ")
    prices = db.scalar("select count(*) from raw.prices")
    assert prices > 0 and _int(r"stored (\d+) price row", stored) == prices
    assert _int(r"(\d+) rows in", fetched) == prices  # nothing rejected on a fresh database
    assert "unavailable: ['DIS']" in stored
    assert _one(flow_run, "symbol DIS unavailable", "prices") == (
        "symbol DIS unavailable (no data from synthetic provider): valued at last close or "
        "entry price")

    factors = _one(flow_run, "factors: ", "factors")
    assert _int(r"(\d+) beta rows written", factors) == db.scalar(
        "select count(*) from raw.symbol_factor_betas")

    snapshots = 0
    for chunk in CHUNKS:
        line = _one(flow_run, f"dbt {chunk} ", f"dbt {chunk}")
        assert "for 1 portfolio(s)" in line
        snapshots += _int(r"fct_portfolio_snapshots (\d+)", line)
    assert snapshots == db.scalar("select count(*) from marts.fct_portfolio_snapshots") == 147

    risk = _one(flow_run, "risk: ", "risk")
    assert _int(r"risk: (\d+) \(portfolio, session\) rows", risk) == db.scalar(
        "select count(*) from marts.fct_portfolio_risk") == 147

    checks = _one(flow_run, "checks: ", "checks")
    assert checks.startswith("checks: passed (") and "Data Docs" in checks
    # what the user reads is ours, not only Prefect's "Finished in state Completed()"
    ours = [x for x in flow_run.logs if not x["logger"].startswith("prefect")]
    assert {x["task"] for x in ours} == set(flow_run.task_names.values()) | {None}


def _markdown_table(text: str, first_header: str) -> list[dict[str, str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, (c.strip() for c in line.strip("|").split("|")),
                             strict=True)))
    return rows


def test_results_artifact_is_the_per_portfolio_table(flow_run, test_database) -> None:
    art = flow_run.artifact
    assert art["type"] == "markdown"
    rows = _markdown_table(art["data"], "portfolio")
    assert [r["portfolio"] for r in rows] == [NAME.replace("_", "\\_")]
    row = rows[0]
    last = test_database.rows(
        "select s.equity, s.daily_pnl, r.realized_vol_63d, r.var_95_1d "
        "from marts.fct_portfolio_snapshots s join marts.fct_portfolio_risk r "
        "using (portfolio_id, snapshot_date) order by s.snapshot_date desc limit 1")[0]
    assert row["equity"] == f"{last['equity']:,.2f}"
    assert row["daily P&L"] == f"{last['daily_pnl']:,.2f}"
    assert row["vol 63d"] == f"{last['realized_vol_63d']:.2%}"
    assert row["VaR 95"] == f"{last['var_95_1d']:.2%}"
    assert row["market beta"] and row["worst stress"] and row["stress P&L"]
    assert row["state"] == "current through 2024\\-12\\-31"
    assert _markdown_table(art["data"], "unavailable symbol") == [
        {"unavailable symbol": "DIS", "reason": "no data from synthetic provider"}]
    phases = {r["phase"] for r in _markdown_table(art["data"], "phase")}
    assert phases == {"onboarding", "prices", "factors", "dbt", "risk", "checks"}


# ---------------------------------------------------------------- in a browser

@pytest.fixture
def browser(tmp_path):
    yield from pytest_browser(tmp_path)


def test_run_page_logs_tab_and_artifact_in_chromium(flow_run, browser) -> None:
    text = open_run_logs(browser, flow_run.ui, flow_run.id)
    for line in ("onboarding: stored", "plan: 147 session(s)", "price plan as_of",
                 f"dbt {CHUNKS[0]} for 1 portfolio(s)", f"dbt {CHUNKS[-1]} for 1 portfolio(s)",
                 "risk: 147 (portfolio, session) rows", "checks: passed"):
        assert line in text, line
    text = open_artifact(browser, flow_run.ui, flow_run.artifact["id"], NAME)
    table = browser.evaluate("document.querySelector('table').innerText")
    assert NAME in table and "equity" in table and "VaR 95" in table
    row = _markdown_table(flow_run.artifact["data"], "portfolio")[0]
    assert row["equity"] in table


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def _home_env(home: Path, port: int) -> dict[str, str]:
    """Another snapfolio home, as a second user on the machine would have it: nothing of
    this session's Prefect settings (API URL, PREFECT_HOME) leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return {**env, "SNAPFOLIO_HOME": str(home), "SNAPFOLIO_PREFECT_PORT": str(port),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PYTHONPATH": str(REPO)}


def test_ui_on_a_nondefault_port_shows_its_own_deployments(test_database, tmp_path,
                                                            browser) -> None:
    from flows.prefect_server import stop_prefect_server

    other_port, port = _free_ports(2)
    other_home, home = tmp_path / "other-home", tmp_path / "home"
    # another home's server, running the whole time, with no deployments
    start = ("import sys; from pathlib import Path; from flows.prefect_server import "
             "ensure_prefect_server; print(ensure_prefect_server(Path(sys.argv[1])))")
    other = subprocess.Popen(
        [sys.executable, "-c", start, str(other_home)], env=_home_env(other_home, other_port), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    server = subprocess.Popen([sys.executable, "-m", "snapfolio", "server"],
                              env=_home_env(home, port), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"
    try:
        out, err = other.communicate(timeout=180)
        assert other.returncode == 0, err[-2000:]
        assert out.strip() == f"http://127.0.0.1:{other_port}/api"
        names: set[str] = set()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not {"daily", "onboarding", "backfill"} <= names:
            time.sleep(1)
            try:
                names = {d["name"] for d in httpx.post(f"{api}/deployments/filter", json={},
                                                       timeout=10).json()}
            except httpx.HTTPError:
                continue
        assert {"daily", "onboarding", "backfill"} <= names, names
        other_api = f"http://127.0.0.1:{other_port}/api"
        assert httpx.post(f"{other_api}/deployments/filter", json={}, timeout=10).json() == []
        # each UI is told its own server's API
        for ui_port in (port, other_port):
            settings = httpx.get(f"http://127.0.0.1:{ui_port}/ui-settings", timeout=10).json()
            assert settings["api_url"] == f"http://127.0.0.1:{ui_port}/api", settings

        names_shown = ("(() => { const t = document.body.innerText;"
                       " return ['daily', 'onboarding', 'backfill'].every("
                       "n => new RegExp('\\\\b' + n + '\\\\b').test(t)); })()")
        text = open_page(browser, f"http://127.0.0.1:{port}/deployments", names_shown)
        assert "portfolio-batch" in text
        requests = [e["params"]["request"]["url"] for e in browser.events
                    if e.get("method") == "Network.requestWillBeSent"]
        api_calls = [u for u in requests if "/api/" in u]
        assert any(u.startswith(f"{api}/deployments") for u in api_calls), api_calls
        assert all(u.startswith(f"http://127.0.0.1:{port}/") for u in requests
                   if u.startswith("http")), requests
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        if other.poll() is None:
            other.kill()
        for h in (home, other_home):
            stop_prefect_server(h)
