"""`snapfolio status --portfolio NAME [--debug] [--watch] [--json]` after a real
onboarding through the CLI (subprocess, real Prefect server, dbt, GX): every phase with
its state and duration, the run's messages, exit codes."""

from __future__ import annotations

import json
import re
import signal
import time
from datetime import datetime

import pytest
from typer.testing import CliRunner

from snapfolio.cli.commands import app
from tests.conftest import EXAMPLES
from tests.test_flow import cli

SMALL = EXAMPLES / "small_test_portfolio.csv"
PHASES = ("onboard", "plan", "prices", "factors", "dbt", "risk", "checks")
CONTRACT = {"run_id", "kind", "scope", "status", "phase", "progress", "started_at",
            "finished_at", "elapsed_s", "eta_s", "error_summary", "stats"}


def snapfolio(*args: str, wait: bool = True, fault: str | None = None):
    """The CLI in a subprocess (test_flow's helper), DIS unavailable (a warning)."""
    return cli(*args, wait=wait, fault=fault,
               env={"SNAPFOLIO_PRICE_PROVIDER": "synthetic:unavailable=DIS"})


def status(*args: str):
    return CliRunner().invoke(app, ["status", *args])


@pytest.fixture(scope="module")
def onboarded(test_database, prefect_api):
    """An onboarding in a subprocess, followed live by `status --portfolio small --watch`."""
    test_database.reset()
    proc = snapfolio("onboard", str(SMALL), "--name", "small", "--as-of", "2024-07-31",
                     wait=False)
    deadline = time.monotonic() + 120
    while not test_database.scalar("select count(*) from raw.batch_runs"):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    watched = status("--portfolio", "small", "--watch")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return watched


def test_watch_follows_the_run_to_its_end(onboarded):
    assert onboarded.exit_code == 0, onboarded.output
    assert "completed" in onboarded.output and "phases" in onboarded.output


def test_status_shows_every_phase_completed_with_its_duration_and_messages(onboarded):
    result = status("--portfolio", "small")
    assert result.exit_code == 0, result.output
    for phase in PHASES:
        assert re.search(rf"│ {phase}\s+│ completed\s+│\s+\d+\.\d\ds │", result.output), phase
    assert "prices completed in" in result.output and "checks completed in" in result.output
    assert re.search(r"run \w+ completed\w* in", result.output)


def test_debug_adds_the_phase_log_lines(onboarded):
    plain, debug = status("--portfolio", "small"), status("--portfolio", "small", "--debug")
    assert debug.exit_code == 0
    assert len(debug.output.splitlines()) > len(plain.output.splitlines())
    assert "stored" in debug.output and "price row(s)" in debug.output  # ingest.price_store
    assert "price row(s)" not in plain.output


def test_json_carries_the_messages(onboarded):
    result = status("--portfolio", "small", "--json")
    view = json.loads(result.output)
    assert set(view) >= CONTRACT | {"messages", "phases"}
    assert [p["phase"] for p in view["phases"]] == list(PHASES)
    messages = view["messages"]
    assert messages and all(set(m) >= {"timestamp", "phase", "level", "message"}
                            for m in messages)
    stamps = [datetime.fromisoformat(m["timestamp"]) for m in messages]
    assert stamps == sorted(stamps)
    assert datetime.fromisoformat(view["started_at"]) <= stamps[0]
    assert stamps[-1] <= datetime.fromisoformat(view["finished_at"])
    assert {m["phase"] for m in messages} >= set(PHASES)
    assert {m["level"] for m in messages} <= {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
    assert any(m["level"] == "WARNING" and "DIS" in m["message"] for m in messages)
    # the same object as `status RUN_ID --json`
    by_id = json.loads(status(view["run_id"], "--json").output)
    assert by_id["messages"] == messages


def test_watch_on_a_finished_run_returns_at_once_with_the_table(onboarded):
    t0 = time.perf_counter()
    result = status("--portfolio", "small", "--watch")
    assert result.exit_code == 0 and time.perf_counter() - t0 < 60  # no wait for a finished run
    assert "│ checks" in result.output


def test_unknown_portfolio_is_one_line_and_exit_2(onboarded):
    proc = snapfolio("status", "--portfolio", "[bold]nope")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: unknown portfolio: [bold]nope"
    both = snapfolio("status", "abc", "--portfolio", "small")
    assert both.returncode == 2 and "not both" in both.stderr


def test_killed_run_keeps_the_messages_of_its_finished_phases(onboarded):
    proc = snapfolio("onboard", str(SMALL), "--name", "killed", "--as-of", "2024-07-31",
                     fault="kill:dbt")
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    result = status("--portfolio", "killed", "--json")
    assert result.exit_code == 1  # the next `status` reconciles the dead run to crashed
    view = json.loads(result.output)
    assert view["status"] == "crashed"
    states = {p["phase"]: p["state"] for p in view["phases"]}
    assert states == {"onboard": "completed", "plan": "completed", "prices": "completed",
                      "factors": "completed", "dbt": "crashed", "risk": "not run",
                      "checks": "not run"}
    user = [m["message"] for m in view["messages"] if m["audience"] == "user"]
    assert any(m.startswith("factors completed in") for m in user), user
    assert any(m["phase"] == "prices" and "price row(s)" in m["message"]
               for m in view["messages"])
