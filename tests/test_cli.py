"""The CLI as a user runs it (a real subprocess): exit codes, one-line errors, exports."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import EXAMPLES

BAD = Path(__file__).parent / "data" / "bad_csv"


def snapfolio(*args: str, check_code: int | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "snapfolio", *args], check=False,
                          capture_output=True, text=True, timeout=300)
    if check_code is not None:
        assert proc.returncode == check_code, proc.stderr[-2000:]
    return proc


@pytest.mark.parametrize("name", sorted(p.name for p in BAD.glob("*.csv")))
def test_bad_csv_is_rejected_whole_with_line_and_column(db, name):
    proc = snapfolio("onboard", str(BAD / name), "--name", "bad", check_code=2)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.splitlines()[0].startswith("error:")
    assert db.scalar("select count(*) from raw.portfolios") == 0
    assert db.scalar("select count(*) from raw.positions") == 0


def test_every_rule_file_lists_every_error(db):
    proc = snapfolio("onboard", str(BAD / "every_rule.csv"), "--name", "bad", check_code=2)
    listed = [line for line in proc.stderr.splitlines() if line.startswith("line ")]
    assert len(listed) >= 30  # every broken rule, not just the first
    assert any(", column Quantity:" in line for line in listed)
    assert any(", column Entry Date:" in line for line in listed)


def test_bad_usage_exits_2(db):
    assert "expected a date" in snapfolio("run", "--as-of", "2025-13-01", check_code=2).stderr
    assert "unknown portfolio" in snapfolio("export", "snapshots", "--portfolio", "nope",
                                            check_code=2).stderr
    assert "positive number" in snapfolio("onboard", str(EXAMPLES / "small_test_portfolio.csv"),
                                          "--name", "x", "--equity", "-5", check_code=2).stderr


def test_onboard_then_export_contract_csv(db, tmp_path):
    src = EXAMPLES / "small_test_portfolio.csv"
    proc = snapfolio("onboard", str(src), "--name", "small", "--as-of", "2024-07-31", check_code=0)
    assert "small" in proc.stdout
    again = snapfolio("onboard", str(src), "--name", "small", check_code=2)
    assert "--replace" in again.stderr

    out = tmp_path / "snapshots.csv"
    snapfolio("export", "snapshots", "--portfolio", "small", "--out", str(out), check_code=0)
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["portfolio_id", "snapshot_date", "equity", "long_value", "short_value",
                       "gross_exposure", "net_exposure", "cash", "daily_pnl", "daily_return",
                       "cumulative_pnl", "position_count", "is_complete"]
    dates = [r[1] for r in rows[1:]]
    assert dates == sorted(dates) and dates[0] == "2024-06-03" and dates[-1] == "2024-07-31"
    assert {r[12] for r in rows[1:]} <= {"true", "false"}
    stored = db.scalar("select equity from marts.fct_portfolio_snapshots "
                       "where snapshot_date = '2024-07-31'")
    assert float(rows[-1][2]) == stored  # full precision round-trips exactly

    positions = snapfolio("export", "positions", "--portfolio", "small", check_code=0).stdout
    lines = positions.splitlines()
    assert lines[0].split(",")[:4] == ["portfolio_id", "position_id", "snapshot_date", "symbol"]
    assert len(lines) - 1 == db.scalar("select count(*) from marts.fct_position_values")


def test_check_command_fails_naming_the_broken_expectation(db, settings):
    from datetime import date

    import batch_helpers

    batch_helpers.store_file(db.engine, EXAMPLES / "small_test_portfolio.csv", "small")
    batch_helpers.run_batch(db.engine, settings, db.url, as_of=date(2024, 7, 31))
    ok = snapfolio("check", "--as-of", "2024-07-31", "--json", check_code=0)
    report = json.loads(ok.stdout)
    assert report["status"] == "passed" and Path(report["data_docs"]).exists()
    with db.engine.begin() as conn:
        conn.execute(sa.text("insert into raw.batch_runs (run_id, kind, status) "
                             "values ('stuck01', 'daily', 'running')"))
    bad = snapfolio("check", "--as-of", "2024-07-31", check_code=1)
    assert "no_stuck_runs" in bad.stdout and "stuck01" in bad.stdout
    assert "Data Docs:" in bad.stdout


def test_prices_load_cli(db):
    good = Path(__file__).parent / "data" / "prices" / "private_funds.csv"
    proc = snapfolio("prices", "load", str(good), "--json", check_code=0)
    stats = json.loads(proc.stdout)
    assert stats["rows_stored"] == db.scalar("select count(*) from raw.prices where source = 'manual'") > 0
    bad = snapfolio("prices", "load", str(good.parent / "bad_manual_prices.csv"), check_code=2)
    assert bad.stderr.startswith("error:") and "line " in bad.stderr and "Traceback" not in bad.stderr
