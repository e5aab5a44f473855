"""Run messages stored with the run (raw.run_messages, flows.messages): captured from
the phases' own logging, written in bulk, capped, and kept when the run fails."""

from __future__ import annotations

import logging
import threading
from datetime import date

import pytest
from batch_helpers import run_batch, store_file
from typer.testing import CliRunner

from flows import run_history
from flows.messages import capture_run_messages, captured_loggers
from snapfolio.cli.commands import app
from snapfolio.cli.status import status_view
from snapfolio.core.faults import InjectedFault
from tests.conftest import EXAMPLES

SMALL = EXAMPLES / "small_test_portfolio.csv"


def _messages(db, run_id: str) -> list[dict]:
    return db.rows("select seq, phase, level, audience, message from raw.run_messages "
                   "where run_id = :r order by seq", r=run_id)


def test_failing_run_still_stores_its_messages(db, settings, monkeypatch):
    store_file(db.engine, SMALL, "small")
    monkeypatch.setenv("SNAPFOLIO_FAULT", "fail:factors")
    with pytest.raises(InjectedFault):
        run_batch(db.engine, settings, db.url, as_of=date(2024, 7, 31), portfolio_names=["small"])
    [run] = db.rows("select run_id, status from raw.batch_runs")
    assert run["status"] == "failed"
    stored = _messages(db, run["run_id"])
    user = [m["message"] for m in stored if m["audience"] == "user"]
    assert any(m.startswith("prices completed in") for m in user), user
    assert any(m.startswith("factors failed in") for m in user), user
    assert "injected failure at factors" in user[-1]  # the outcome is the last message
    # the prices phase's own detail lines (ingest, flows.phases) were kept too
    assert any(m["phase"] == "prices" and m["audience"] == "debug" for m in stored)
    view = status_view(db.engine, run["run_id"])
    states = {p["phase"]: p["state"] for p in view["phases"]}
    assert states == {"plan": "completed", "prices": "completed", "factors": "failed",
                      "dbt": "not run", "risk": "not run", "checks": "not run"}
    result = CliRunner().invoke(app, ["status", "--portfolio", "small"])
    assert result.exit_code == 1, result.output
    assert "injected failure at factors" in result.output


def test_messages_are_buffered_capped_and_keep_the_newest(db):
    run_id = run_history.start_run(db.engine, "daily", {}, date(2024, 7, 31))
    detail, story = logging.getLogger("ingest.status_test"), logging.getLogger("flows.lifecycle")
    with capture_run_messages(db.engine, run_id, cap=5) as recorder:
        for i in range(12):
            detail.info("detail %d", i)
        # buffered in memory: no database round trip per log line, and bounded by the cap
        assert db.scalar("select count(*) from raw.run_messages") == 0
        assert recorder.write_pending() == 5
        for i in range(12, 15):
            detail.info("detail %d", i)
        for i in range(3):
            story.warning("warning %d", i)
        recorder.write_pending()
    stored = _messages(db, run_id)
    assert [m["message"] for m in stored if m["audience"] == "debug"] == [
        f"detail {i}" for i in range(10, 15)]
    assert [m["message"] for m in stored if m["audience"] == "user"] == [
        f"warning {i}" for i in range(3)]
    counts = db.scalar("select stats -> 'messages' from raw.batch_runs where run_id = :r",
                       r=run_id)
    assert counts == {"captured": {"user": 3, "debug": 15}, "cap": 5}
    result = CliRunner().invoke(app, ["status", run_id, "--debug"])
    assert result.exit_code == 0, result.output
    assert "10 older dropped (cap 5 per run)" in result.output
    run_history.finish_run(db.engine, run_id, "completed")


def test_capture_keeps_runs_apart_and_restores_logger_levels(db):
    levels = {n: logging.getLogger(n).level for n in captured_loggers()}
    first = run_history.start_run(db.engine, "daily", {}, None)
    second = run_history.start_run(db.engine, "daily", {}, None)
    log = logging.getLogger("factors.status_test")
    with capture_run_messages(db.engine, first) as outer:
        log.info("first run")
        thread = threading.Thread(target=log.info, args=("pool thread of the only run",))
        thread.start()
        thread.join()
        with capture_run_messages(db.engine, second) as inner:
            log.info("second run")
            inner.write_pending()
        outer.write_pending()
    log.info("after the runs")
    assert [m["message"] for m in _messages(db, first)] == ["first run",
                                                            "pool thread of the only run"]
    assert [m["message"] for m in _messages(db, second)] == ["second run"]
    assert {n: logging.getLogger(n).level for n in captured_loggers()} == levels
