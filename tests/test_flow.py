"""The one batch flow as users run it (real subprocesses of the CLI, real Prefect server,
real dbt and GX): crash safety, failure handling, concurrency, status and progress."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date

import pandas as pd
import pytest

from snapfolio.core import calendar
from tests.conftest import EXAMPLES

SCOTT = EXAMPLES / "scott_yaphe_portfolio_5M.csv"
AS_OF = "2025-06-30"  # ~120 sessions after the 2025-01-06 entry: 3 chunks of 50
MART_QUERIES = {
    "positions": "select position_id, snapshot_date, price, price_source, market_value, daily_pnl, "
                 "cumulative_pnl from marts.fct_position_values order by 1, 2",
    "snapshots": "select snapshot_date, equity, long_value, short_value, cash, daily_pnl, "
                 "daily_return, cumulative_pnl, position_count, is_complete "
                 "from marts.fct_portfolio_snapshots order by 1",
    "exposures": "select position_id, snapshot_date, factor, beta, exposure_status "
                 "from marts.fct_position_factor_exposures order by 1, 2, 3",
}


def cli(*args: str, fault: str | None = None, env: dict | None = None,
        wait: bool = True) -> subprocess.CompletedProcess | subprocess.Popen:
    full_env = {**os.environ, "SNAPFOLIO_PRICE_PROVIDER": "synthetic:unavailable=GGIPX+NEAIX",
                "SNAPFOLIO_CHUNK_SESSIONS": "50", **(env or {})}
    full_env.pop("SNAPFOLIO_FAULT", None)
    if fault:
        full_env["SNAPFOLIO_FAULT"] = fault
    cmd = [sys.executable, "-m", "snapfolio", *args]
    if not wait:
        return subprocess.Popen(cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=600,
                          check=False)


def marts(db) -> dict[str, pd.DataFrame]:
    return {k: pd.DataFrame(db.rows(q)) for k, q in MART_QUERIES.items()}


def assert_same_marts(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    for key in MART_QUERIES:
        assert len(a[key]) == len(b[key]) > 0, key
        pd.testing.assert_frame_equal(a[key], b[key], check_exact=False, rtol=1e-12, atol=1e-9,
                                      obj=key)


def no_running_runs(db) -> None:
    status = json.loads(cli("status", "--json").stdout)
    assert status["status"] != "running"
    assert db.scalar("select count(*) from raw.batch_runs where status = 'running'") == 0


@pytest.fixture(scope="module")
def reference(test_database, prefect_api):
    """An uninterrupted onboarding, to compare every interrupted one with."""
    test_database.reset()
    proc = cli("onboard", str(SCOTT), "--name", "scott", "--as-of", AS_OF)
    assert proc.returncode == 0, proc.stderr
    assert "scott" in proc.stdout and "completed" in proc.stdout
    return marts(test_database)


@pytest.mark.parametrize("fault", ["kill:prices", "kill:dbt", "kill:chunk:2"])
def test_killed_run_is_repaired_by_the_next_run(reference, db, fault):
    proc = cli("onboard", str(SCOTT), "--name", "scott", "--as-of", AS_OF, fault=fault)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert db.scalar("select count(*) from raw.portfolios") == 1  # imported before the kill
    if fault == "kill:chunk:2":
        # two chunks of 50 sessions were committed before the kill
        stored = db.scalar("select count(*) from marts.fct_portfolio_snapshots")
        assert stored == 100
    rerun = cli("run", "--as-of", AS_OF, "--json")
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert any("reconciled crashed runs" in w for w in summary["warnings"])
    if fault == "kill:chunk:2":
        # resumed from the last committed chunk, not from the start
        first_session = calendar.first_session_on_or_after(date(2025, 1, 6))
        resumed_from = calendar.sessions_between(first_session, date(2025, 12, 31))[100]
        assert summary["chunks"][0] >= resumed_from.isoformat()
    assert_same_marts(marts(db), reference)
    crashed = db.rows("select status, error_summary from raw.batch_runs where status = 'crashed'")
    assert len(crashed) == 1 and "process died" in crashed[0]["error_summary"]
    no_running_runs(db)


def test_injected_failure_leaves_failed_row_and_releases_locks(reference, db):
    proc = cli("onboard", str(SCOTT), "--name", "scott", "--as-of", AS_OF, fault="fail:factors")
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "injected failure at factors" in proc.stderr
    failed = db.rows("select status, error_summary, phase from raw.batch_runs")
    assert [r["status"] for r in failed] == ["failed"]
    assert "InjectedFault: injected failure at factors" in failed[0]["error_summary"]
    assert db.scalar("select count(*) from pg_locks l join pg_database d on d.oid = l.database "
                     "where l.locktype = 'advisory' and d.datname = current_database()") == 0
    rerun = cli("run", "--as-of", AS_OF)
    assert rerun.returncode == 0, rerun.stderr
    assert_same_marts(marts(db), reference)


def test_concurrent_daily_run_and_two_onboardings(db, prefect_api):
    for name in ("small_test_portfolio", "tech_growth_portfolio"):
        assert cli("onboard", str(EXAMPLES / f"{name}.csv"), "--name", name,
                   "--as-of", "2025-06-27").returncode == 0
    procs = [
        cli("run", "--as-of", AS_OF, wait=False),
        cli("onboard", str(SCOTT), "--name", "scott", "--as-of", AS_OF, wait=False),
        cli("onboard", str(EXAMPLES / "dividend_income_portfolio.csv"), "--name", "dividend",
            "--as-of", AS_OF, wait=False),
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    assert db.scalar("select count(*) from (select 1 from marts.fct_position_values "
                     "group by position_id, snapshot_date having count(*) > 1) d") == 0
    assert db.scalar("select count(*) from (select 1 from marts.fct_portfolio_snapshots "
                     "group by portfolio_id, snapshot_date having count(*) > 1) d") == 0
    lagging = db.rows("select p.name from raw.portfolios p left join lateral ("
                      " select max(snapshot_date) as last from marts.fct_portfolio_snapshots s"
                      " where s.portfolio_id = p.portfolio_id and s.is_complete) s on true "
                      "where s.last is distinct from date '2025-06-30'")
    assert lagging == []
    assert db.scalar("select count(*) from raw.batch_runs where status <> 'completed' "
                     "and status <> 'completed_with_warnings'") == 0


def test_onboard_shows_progress_and_status_reports_phases(db, prefect_api):
    proc = cli("onboard", str(SCOTT), "--name", "scott", "--as-of", "2025-12-31",
               env={"COLUMNS": "160"})
    assert proc.returncode == 0, proc.stderr
    assert "Portfolios as of 2025-12-31" in proc.stdout and "scott" in proc.stdout
    assert "GGIPX" in proc.stderr  # unavailable symbols are named as warnings
    status = json.loads(cli("status", "--json").stdout)
    assert set(status) == {"run_id", "kind", "scope", "status", "phase", "progress", "started_at",
                           "finished_at", "elapsed_s", "eta_s", "error_summary", "stats",
                           "phases", "messages"}
    assert status["kind"] == "onboarding" and status["status"] == "completed_with_warnings"
    assert set(status["stats"]["timings"]) >= {"prices", "factors", "dbt", "checks"}
    assert status["progress"]["done"] == status["progress"]["total"]
    assert len(status["stats"]["chunks"]) == 5  # 248 sessions in chunks of 50
    unknown = cli("status", "nope", "--json")
    assert unknown.returncode == 1
    assert json.loads(unknown.stdout) == {"run_id": "nope", "status": "not_found"}


def test_prefect_server_lists_deployments_and_flow_runs(db, prefect_api):
    import httpx

    proc = cli("onboard", str(EXAMPLES / "small_test_portfolio.csv"), "--name", "small",
               "--as-of", "2024-07-31")
    assert proc.returncode == 0, proc.stderr
    server = subprocess.Popen([sys.executable, "-m", "snapfolio", "server"], env=dict(os.environ),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    try:
        names: set[str] = set()
        with httpx.Client(base_url=prefect_api, timeout=10) as client:
            for _ in range(120):
                names = {d["name"] for d in client.post("/deployments/filter", json={}).json()}
                if {"daily", "onboarding", "backfill"} <= names:
                    break
                time.sleep(0.5)
            assert {"daily", "onboarding", "backfill"} <= names
            daily = next(d for d in client.post("/deployments/filter", json={}).json()
                         if d["name"] == "daily")
            assert daily["schedules"][0]["schedule"]["cron"] == "30 17 * * 1-5"
            assert daily["schedules"][0]["schedule"]["timezone"] == "America/New_York"
            runs = client.post("/flow_runs/filter", json={}).json()
            assert any(r["state_type"] == "COMPLETED" for r in runs)
            flows = {f["name"] for f in client.post("/flows/filter", json={}).json()}
            assert "portfolio-batch" in flows
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
