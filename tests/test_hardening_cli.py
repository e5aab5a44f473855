"""Issue #16's findings, reproduced through the CLI as a user runs it: each exits as
promised (0/1/2), prints one line, and leaves the database exactly as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import batch_helpers
import sqlalchemy as sa

from flows.batch import execute_batch
from flows.request import BatchRequest
from snapfolio.core import calendar
from tests.conftest import EXAMPLES

SMALL = EXAMPLES / "small_test_portfolio.csv"


def snapfolio(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snapfolio", *args], check=False,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def _counts(db) -> tuple:
    return (db.scalar("select count(*) from raw.portfolios"),
            db.scalar("select count(*) from raw.batch_runs"),
            db.scalar("select count(*) from raw.prices"))


def _one_line_exit(proc: subprocess.CompletedProcess, code: int, needle: str) -> None:
    assert proc.returncode == code, proc.stderr[-1500:]
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines and needle in lines[0], proc.stderr


def test_future_and_ancient_as_of_are_bad_input_before_anything_is_written(db):
    before = _counts(db)
    _one_line_exit(snapfolio("onboard", str(SMALL), "--name", "x", "--as-of", "2099-01-02"),
                   2, "after the last completed NYSE session")
    _one_line_exit(snapfolio("run", "--as-of", "1985-01-02"), 2, "before the supported")
    tomorrow = calendar.next_session(calendar.last_completed_session())
    _one_line_exit(snapfolio("run", "--as-of", tomorrow.isoformat()), 2, "after the last")
    assert _counts(db) == before  # not even a run row


def test_bad_setting_is_named_and_nothing_is_written(db):
    before = _counts(db)
    _one_line_exit(snapfolio("onboard", str(SMALL), "--name", "x",
                             env={"SNAPFOLIO_CHUNK_SESSIONS": "0"}), 2, "SNAPFOLIO_CHUNK_SESSIONS")
    _one_line_exit(snapfolio("run", env={"SNAPFOLIO_MAX_DAILY_MOVE": "ten"}), 2,
                   "SNAPFOLIO_MAX_DAILY_MOVE")
    assert _counts(db) == before


def test_unknown_command_is_bad_usage(db):
    proc = snapfolio("symbolz", "load", "x.csv")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_markup_in_names_and_ids_is_printed_literally(db, settings):
    proc = snapfolio("status", "[/]")
    assert proc.returncode == 1 and "MarkupError" not in proc.stderr
    assert "[/]" in proc.stderr + proc.stdout
    name = "a[/]b [bold]x"
    done = snapfolio("onboard", str(SMALL), "--name", name, "--as-of", "2024-07-31")
    assert done.returncode == 0, done.stderr[-2000:]
    assert name in done.stdout  # literally, in the summary table
    assert db.scalar("select count(*) from raw.portfolios where name = :n", n=name) == 1


def test_position_from_1999_is_valued_and_later_runs_still_work(db, settings, tmp_path):
    """Before: accepted, then every later run of the book failed in the prices phase
    (the calendar started in 2000). Prices from a file covering 1998-2024."""
    import numpy as np

    from ingest.providers.csv_file import CsvProvider
    from snapfolio.core.factor_definitions import factor_etfs, load_definitions

    csv_path = tmp_path / "old.csv"
    csv_path.write_text(
        "Symbol,Quantity,Entry Price Per Share,Entry Date\n"
        "AAPL,100,1.25,1999-03-01\nMSFT,10,40,2024-01-02\n")
    days = calendar.sessions_between(date(1998, 1, 2), date(2024, 4, 1))
    rng = np.random.default_rng(3)
    lines = ["symbol,date,close"]
    for k, symbol in enumerate(["AAPL", "MSFT", *factor_etfs(load_definitions())]):
        path = (10.0 + k) * np.cumprod(1 + 0.01 * rng.standard_normal(len(days)))
        lines += [f"{symbol},{d.isoformat()},{p:.6f}" for d, p in zip(days, path, strict=True)]
    prices = tmp_path / "prices.csv"
    prices.write_text("\n".join(lines) + "\n")
    provider = CsvProvider(str(prices))
    batch_helpers.store_file(db.engine, csv_path, "old")
    # 25 years in one chunk: the test is about the calendar, not about chunking
    first = execute_batch(BatchRequest(as_of=date(2024, 3, 28), chunk_sessions=10_000),
                          settings=settings, provider=provider)
    assert first.status != "failed", first.error
    again = execute_batch(BatchRequest(as_of=date(2024, 4, 1)), settings=settings,
                          provider=provider)
    assert again.status != "failed", again.error
    first_snapshot = db.scalar("select min(snapshot_date) from marts.fct_portfolio_snapshots")
    assert first_snapshot == date(1999, 3, 1)
    stored = {r["symbol"]: r["close"] for r in db.rows(
        "select symbol, close from raw.prices where price_date = '1999-03-01'")}
    assert db.scalar("select price from marts.fct_position_values where snapshot_date = "
                     "'1999-03-01' and symbol = 'AAPL'") == stored["AAPL"]


def test_one_portfolio_failing_its_dbt_chunk_does_not_stop_the_others(db, settings):
    """A value the mart's contract rejects (a NULL price, injected by relaxing a raw
    constraint in the test) fails that portfolio only: the others are current, the run
    is failed naming it, and after the data is fixed the next run completes it."""
    for name in ("good_a", "bad", "good_b"):
        batch_helpers.store_file(db.engine, SMALL, name)
    with db.engine.begin() as conn:
        conn.execute(sa.text("alter table raw.positions alter column entry_price drop not null"))
        conn.execute(sa.text(
            "update raw.positions set entry_price = null where position_id = (select min("
            "position_id) from raw.positions join raw.portfolios using (portfolio_id) "
            "where name = 'bad')"))
    summary = execute_batch(BatchRequest(as_of=date(2024, 7, 31)), settings=settings)
    assert summary.status == "failed" and set(summary.failed_portfolios) == {"bad"}
    assert "bad" in (summary.error or "")
    assert summary.portfolio_states["good_a"].startswith("current through")
    current = {r["name"]: r["last"] for r in db.rows(
        "select p.name, max(s.snapshot_date) as last from raw.portfolios p "
        "left join marts.fct_portfolio_snapshots s using (portfolio_id) group by p.name")}
    assert current["good_a"] == current["good_b"] == date(2024, 7, 31)
    assert db.scalar("select status from raw.batch_runs order by started_at desc limit 1") \
        == "failed"
    with db.engine.begin() as conn:  # the data is fixed
        conn.execute(sa.text("update raw.positions set entry_price = 100 "
                             "where entry_price is null"))
    try:
        fixed = execute_batch(BatchRequest(as_of=date(2024, 7, 31)), settings=settings)
    finally:
        with db.engine.begin() as conn:
            conn.execute(sa.text("alter table raw.positions alter column entry_price set not null"))
    assert fixed.status != "failed", fixed.error
    assert db.scalar("select max(snapshot_date) from marts.fct_portfolio_snapshots s "
                     "join raw.portfolios p using (portfolio_id) where p.name = 'bad'") \
        == date(2024, 7, 31)
