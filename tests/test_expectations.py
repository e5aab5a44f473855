"""The post-run GX gate (issue 6): it passes on a good database, and each way of breaking
the database fails exactly the check meant to catch it, naming the offender.

The database is built once per module (real dbt through the flow's own code, batch_helpers.run_batch). GX reads
through its own connections, so every break is committed and restored in a `finally`
(the stashed rows are put back as they were); nothing is left broken for the next test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from expectations import CHECK_NAMES, CheckReport, data_docs_index, load_severities, run_checks
from expectations.context import context_root, scope_query
from snapfolio.core.settings import Settings, load_settings
from tests.conftest import EXAMPLES

if TYPE_CHECKING:  # imported for typing only: pytest would try to collect a Test* class
    from tests.conftest import TestDatabase

AS_OF = date(2025, 3, 7)
PREVIOUS_SESSION = date(2025, 3, 6)
MIDDLE_SESSION = date(2025, 2, 3)
EXPOSURES = "marts.fct_position_factor_exposures"


@dataclass
class GateDB:
    settings: Settings
    engine: Engine
    ids: dict[str, int]

    def check(self, **kwargs: Any) -> CheckReport:
        kwargs.setdefault("as_of", AS_OF)
        return run_checks(self.settings, engine=self.engine, **kwargs)

    def has_exposures_mart(self) -> bool:
        with self.engine.connect() as conn:
            return conn.scalar(sa.text("select to_regclass(:t)"), {"t": EXPOSURES}) is not None

    def require_exposures_mart(self) -> None:
        # TEMPORARY: the factor-exposure marts are being added concurrently; until they
        # are built by run_batch these tests are skipped (the gate itself fails loudly,
        # see test_missing_exposure_mart_fails_the_check_loudly).
        if not self.has_exposures_mart():
            pytest.skip(f"{EXPOSURES} is not built by run_batch yet")


@pytest.fixture(scope="module")
def gate(test_database: TestDatabase) -> GateDB:
    import batch_helpers

    test_database.reset()
    settings = load_settings()  # conftest points it at the test database, synthetic prices
    assert settings.price_provider == "synthetic"
    engine = test_database.engine
    ids = {}
    for csv, name in (("small_test_portfolio.csv", "small_test"),
                      ("tech_growth_portfolio.csv", "tech_growth")):
        ids[name] = batch_helpers.store_file(engine, EXAMPLES / csv, name).portfolio_id
    batch_helpers.run_batch(engine, settings, test_database.url, as_of=AS_OF)
    return GateDB(settings=settings, engine=engine, ids=ids)


def failing(report: CheckReport) -> dict[str, str]:
    return {r["name"]: r["details"] for r in report.results if not r["success"]}


def expected_failures(gate: GateDB, *names: str) -> set[str]:
    """The checks that must fail: `names`, plus the exposure check while its mart is absent."""
    return set(names) | ({"every_position_has_exposures"} if not gate.has_exposures_mart() else set())


# ---------------------------------------------------------------- helpers to break/restore


def stash_delete(engine: Engine, table: str, where: str, **params: Any) -> list[dict[str, Any]]:
    with engine.begin() as conn:
        rows = [dict(r) for r in conn.execute(
            sa.text(f"select * from {table} where {where}"), params).mappings()]
        conn.execute(sa.text(f"delete from {table} where {where}"), params)
    assert rows, f"nothing to delete in {table} where {where} {params}"
    return rows


def restore(engine: Engine, table: str, rows: list[dict[str, Any]]) -> None:
    cols = list(rows[0])
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"insert into {table} ({', '.join(cols)}) "
                    f"values ({', '.join(':' + c for c in cols)})"),
            rows,
        )


def snapshot_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.text("select count(*) from marts.fct_portfolio_snapshots")))


# ---------------------------------------------------------------------------------- tests


def test_good_database_passes_every_check(gate: GateDB) -> None:
    report = gate.check()
    assert [r["name"] for r in report.results] == list(CHECK_NAMES)
    if gate.has_exposures_mart():
        assert report.success and report.status == "passed", failing(report)
    else:  # the exposure check must fail, not be skipped, while its mart is missing
        assert failing(report).keys() == {"every_position_has_exposures"}
        assert report.status == "failed" and not report.success
    for r in report.results:
        assert set(r) == {"name", "severity", "success", "details", "unexpected_count"}
        if r["success"]:
            assert r["unexpected_count"] == 0 and r["details"] == "ok"
    assert report.data_docs_index == data_docs_index(gate.settings)
    assert report.data_docs_index.is_file()


def test_checkpoint_is_idempotent(gate: GateDB) -> None:
    # its speed is measured by benchmarks/, not asserted here (a loaded CI machine)
    gate.check()
    report = gate.check(portfolio_ids=list(gate.ids.values()), current_run_id="run-1")
    assert report.elapsed_s > 0
    root = context_root(gate.settings)
    suites = {p.stem: json.loads(p.read_text()) for p in (root / "expectations").glob("*.json")}
    assert set(suites) == {"snapfolio_marts", "snapfolio_raw"}
    names = sorted(e["meta"]["check"] for s in suites.values() for e in s["expectations"])
    assert names == sorted(CHECK_NAMES)  # repeated runs never duplicate expectations
    checkpoints = list((root / "checkpoints").glob("*.json"))
    assert [p.stem for p in checkpoints] == ["snapfolio_gate"]
    yml = (root / "great_expectations.yml").read_text()
    assert "analytics_enabled: false" in yml
    assert "${SNAPFOLIO_GX_DATABASE_URL}" in yml and "127.0.0.1" not in yml  # no credentials


def test_declarations_are_loaded_when_unchanged_and_healed_when_edited(gate: GateDB) -> None:
    gate.check()
    root = context_root(gate.settings)
    suite = root / "expectations" / "snapfolio_marts.json"
    stamp = suite.stat().st_mtime_ns
    gate.check()  # same checks, severities and files: loaded, not declared again
    assert suite.stat().st_mtime_ns == stamp
    edited = json.loads(suite.read_text())
    edited["expectations"] = edited["expectations"][:1]  # a hand edit drops checks
    suite.write_text(json.dumps(edited))
    report = gate.check()
    assert [r["name"] for r in report.results] == list(CHECK_NAMES)  # every check ran
    healed = json.loads(suite.read_text())
    assert len(healed["expectations"]) > 1
    (root / "checkpoints" / "snapfolio_gate.json").unlink()  # a deleted checkpoint
    assert [r["name"] for r in gate.check().results] == list(CHECK_NAMES)
    assert (root / "checkpoints" / "snapfolio_gate.json").is_file()


def test_missing_last_snapshot_names_the_laggard(gate: GateDB) -> None:
    rows = stash_delete(gate.engine, "marts.fct_portfolio_snapshots",
                        "portfolio_id = :p and snapshot_date = :d",
                        p=gate.ids["tech_growth"], d=AS_OF)
    try:
        report = gate.check()
    finally:
        restore(gate.engine, "marts.fct_portfolio_snapshots", rows)
    failed = failing(report)
    assert set(failed) == expected_failures(gate, "no_portfolio_lags")
    assert "portfolio tech_growth: last complete snapshot 2025-03-06, expected 2025-03-07" in (
        failed["no_portfolio_lags"])
    assert "small_test" not in failed["no_portfolio_lags"]
    lags = next(r for r in report.results if r["name"] == "no_portfolio_lags")
    assert lags["unexpected_count"] == 1 and report.status == "failed"


def test_lags_respect_the_portfolio_scope(gate: GateDB) -> None:
    rows = stash_delete(gate.engine, "marts.fct_portfolio_snapshots",
                        "portfolio_id = :p and snapshot_date = :d",
                        p=gate.ids["tech_growth"], d=AS_OF)
    try:
        other = gate.check(portfolio_ids=[gate.ids["small_test"]])
        mine = gate.check(portfolio_ids=[gate.ids["tech_growth"]])
    finally:
        restore(gate.engine, "marts.fct_portfolio_snapshots", rows)
    assert "no_portfolio_lags" not in failing(other)
    assert "tech_growth" in failing(mine)["no_portfolio_lags"]


def test_missing_middle_snapshot_fails_lags_and_density(gate: GateDB) -> None:
    rows = stash_delete(gate.engine, "marts.fct_portfolio_snapshots",
                        "portfolio_id = :p and snapshot_date = :d",
                        p=gate.ids["small_test"], d=MIDDLE_SESSION)
    try:
        report = gate.check()
    finally:
        restore(gate.engine, "marts.fct_portfolio_snapshots", rows)
    failed = failing(report)
    assert set(failed) == expected_failures(gate, "no_portfolio_lags", "snapshots_unique_and_dense")
    assert "portfolio small_test: last complete snapshot 2025-01-31" in failed["no_portfolio_lags"]
    assert failed["snapshots_unique_and_dense"] == (
        "portfolio small_test: 1 missing session(s): 2025-02-03")


def test_session_gap_fails_density_only(gate: GateDB) -> None:
    # a snapshot two sessions after as_of leaves 2025-03-10 missing in between
    with gate.engine.begin() as conn:
        conn.execute(sa.text(
            "insert into marts.fct_portfolio_snapshots "
            "select portfolio_id, date '2025-03-11', equity, long_value, short_value, "
            "gross_exposure, net_exposure, cash, daily_pnl, daily_return, cumulative_pnl, "
            "position_count, is_complete, initial_equity, is_final from marts.fct_portfolio_snapshots "
            "where portfolio_id = :p and snapshot_date = :d"), {"p": gate.ids["tech_growth"], "d": AS_OF})
    try:
        report = gate.check()
    finally:
        stash_delete(gate.engine, "marts.fct_portfolio_snapshots",
                     "portfolio_id = :p and snapshot_date = date '2025-03-11'",
                     p=gate.ids["tech_growth"])
    failed = failing(report)
    assert set(failed) == expected_failures(gate, "snapshots_unique_and_dense")
    assert failed["snapshots_unique_and_dense"] == (
        "portfolio tech_growth: 1 missing session(s): 2025-03-10")


def test_broken_equity_names_portfolio_and_session(gate: GateDB) -> None:
    with gate.engine.begin() as conn:
        conn.execute(sa.text(
            "update marts.fct_portfolio_snapshots set equity = equity + 1000 "
            "where portfolio_id = :p and snapshot_date = :d"), {"p": gate.ids["small_test"], "d": AS_OF})
    try:
        report = gate.check()
    finally:
        with gate.engine.begin() as conn:
            conn.execute(sa.text(
                "update marts.fct_portfolio_snapshots set equity = equity - 1000 "
                "where portfolio_id = :p and snapshot_date = :d"),
                {"p": gate.ids["small_test"], "d": AS_OF})
    failed = failing(report)
    assert set(failed) == expected_failures(gate, "equity_identity")
    details = failed["equity_identity"]
    assert ("portfolio small_test: equity != initial_equity + cumulative_pnl on 1 session(s) "
            "2025-03-07..2025-03-07") in details
    assert "portfolio small_test: cash != equity - net_exposure" in details
    assert "tech_growth" not in details
    assert "equity_identity" not in failing(gate.check())  # restored exactly


def test_negative_price_names_symbol_and_holders(gate: GateDB) -> None:
    with gate.engine.begin() as conn:
        old = conn.execute(sa.text(
            "select close from raw.prices where symbol = 'DIS' and price_date = :d"), {"d": AS_OF}
        ).scalar_one()
        conn.execute(sa.text("alter table raw.prices drop constraint prices_close_check"))
        conn.execute(sa.text(
            "update raw.prices set close = -1 where symbol = 'DIS' and price_date = :d"), {"d": AS_OF})
    try:
        report = gate.check()
    finally:
        with gate.engine.begin() as conn:
            conn.execute(sa.text(
                "update raw.prices set close = :c where symbol = 'DIS' and price_date = :d"),
                {"c": old, "d": AS_OF})
            conn.execute(sa.text(
                "alter table raw.prices add constraint prices_close_check check (close > 0)"))
    failed = failing(report)
    assert set(failed) == expected_failures(gate, "prices_positive")
    assert failed["prices_positive"].startswith(
        "symbol DIS: 1 non-positive price(s) 2025-03-07..2025-03-07 (first close -1")
    assert "held by small_test" in failed["prices_positive"]


def test_stuck_run_is_named_but_the_current_run_is_not(gate: GateDB) -> None:
    with gate.engine.begin() as conn:
        conn.execute(sa.text(
            "insert into raw.batch_runs (run_id, kind, status, phase) "
            "values ('stuck-run', 'daily', 'running', 'dbt'), "
            "('current-run', 'daily', 'running', 'checks')"))
    try:
        stuck = gate.check(current_run_id="current-run")
        own = gate.check(current_run_id="stuck-run")
        both = gate.check()
    finally:
        stash_delete(gate.engine, "raw.batch_runs", "run_id in ('stuck-run', 'current-run')")
    failed = failing(stuck)
    assert set(failed) == expected_failures(gate, "no_stuck_runs")
    assert failed["no_stuck_runs"].startswith("run stuck-run (daily, phase dbt) still running")
    assert "current-run" not in failed["no_stuck_runs"]
    assert "stuck-run" not in failing(own)["no_stuck_runs"]
    assert failing(both)["no_stuck_runs"].count("still running") == 2


def test_warning_severity_completes_with_warnings(gate: GateDB, monkeypatch) -> None:
    monkeypatch.setenv("SNAPFOLIO_CHECK_SEVERITY",
                       "no_stuck_runs=warning, every_position_has_exposures=warning")
    with gate.engine.begin() as conn:
        conn.execute(sa.text("insert into raw.batch_runs (run_id, kind, status) "
                             "values ('stuck-run', 'daily', 'running')"))
    try:
        report = gate.check()
    finally:
        stash_delete(gate.engine, "raw.batch_runs", "run_id = 'stuck-run'")
    assert report.success and report.status == "warnings"
    stuck = next(r for r in report.results if r["name"] == "no_stuck_runs")
    assert stuck == {"name": "no_stuck_runs", "severity": "warning", "success": False,
                     "details": stuck["details"], "unexpected_count": 1}
    assert report.summary_lines()[-1].startswith("warning: no_stuck_runs: run stuck-run")


def test_missing_exposure_row_names_position(gate: GateDB) -> None:
    gate.require_exposures_mart()
    rows = stash_delete(gate.engine, EXPOSURES,
                        "portfolio_id = :p and snapshot_date = :d and factor = 'market_beta' "
                        "and position_id = (select min(position_id) from raw.positions "
                        "where portfolio_id = :p)",
                        p=gate.ids["tech_growth"], d=AS_OF)
    try:
        report = gate.check()
        scoped_out = gate.check(portfolio_ids=[gate.ids["small_test"]])
    finally:
        restore(gate.engine, EXPOSURES, rows)
    failed = failing(report)
    assert set(failed) == {"every_position_has_exposures"}
    symbol = rows[0]["symbol"]
    assert failed["every_position_has_exposures"].startswith(
        f"portfolio tech_growth: {symbol} (position {rows[0]['position_id']}) no exposure row "
        "for 1 row(s) on 1 session(s) 2025-03-07..2025-03-07 (factors: market_beta)")
    assert scoped_out.success


def test_exposure_check_is_bounded_by_since(gate: GateDB) -> None:
    gate.require_exposures_mart()
    rows = stash_delete(gate.engine, EXPOSURES,
                        "portfolio_id = :p and snapshot_date = :d and factor = 'market_beta'",
                        p=gate.ids["small_test"], d=MIDDLE_SESSION)
    try:
        recent = gate.check(since=PREVIOUS_SESSION)
        everything = gate.check()
    finally:
        restore(gate.engine, EXPOSURES, rows)
    assert recent.success
    assert "small_test" in failing(everything)["every_position_has_exposures"]


def test_snapshot_checks_are_bounded_by_since_but_see_its_edge(gate: GateDB) -> None:
    """A run's gate reads its own sessions (from `since`), plus the session before
    `since` for density: a hole there is a break between old and new history."""
    before = date(2025, 3, 5)  # the session before PREVIOUS_SESSION
    rows = stash_delete(gate.engine, "marts.fct_portfolio_snapshots",
                        "portfolio_id = :p and snapshot_date = :d",
                        p=gate.ids["small_test"], d=MIDDLE_SESSION)
    try:
        recent = gate.check(since=PREVIOUS_SESSION)
        at_edge = gate.check(since=date(2025, 2, 4))  # the session after the hole
    finally:
        restore(gate.engine, "marts.fct_portfolio_snapshots", rows)
    assert recent.success, failing(recent)
    failed = failing(at_edge)
    assert failed["snapshots_unique_and_dense"] == (
        "portfolio small_test: 1 missing session(s): 2025-02-03")

    with gate.engine.begin() as conn:
        conn.execute(sa.text(
            "update marts.fct_portfolio_snapshots set cash = cash + 5 "
            "where portfolio_id = :p and snapshot_date in (:a, :b)"),
            {"p": gate.ids["tech_growth"], "a": before, "b": AS_OF})
    try:
        recent = gate.check(since=PREVIOUS_SESSION)
    finally:
        with gate.engine.begin() as conn:
            conn.execute(sa.text(
                "update marts.fct_portfolio_snapshots set cash = cash - 5 "
                "where portfolio_id = :p and snapshot_date in (:a, :b)"),
                {"p": gate.ids["tech_growth"], "a": before, "b": AS_OF})
    assert set(failing(recent)) == {"equity_identity"}
    # only the session inside the window is reported
    assert ("portfolio tech_growth: cash != equity - net_exposure on 1 session(s) "
            "2025-03-07..2025-03-07") in failing(recent)["equity_identity"]


def test_missing_exposure_mart_fails_the_check_loudly(gate: GateDB) -> None:
    renamed = gate.has_exposures_mart()
    if renamed:  # simulate the mart not being built, without losing it
        with gate.engine.begin() as conn:
            conn.execute(sa.text(f"alter table {EXPOSURES} rename to gate_test_hidden"))
    try:
        report = gate.check()
    finally:
        if renamed:
            with gate.engine.begin() as conn:
                conn.execute(sa.text("alter table marts.gate_test_hidden "
                                     "rename to fct_position_factor_exposures"))
    failed = failing(report)
    assert set(failed) == {"every_position_has_exposures"}
    assert failed["every_position_has_exposures"] == (
        "could not run: table marts.fct_position_factor_exposures does not exist "
        "(the dbt models that build it have not run or are not deployed)")
    assert report.status == "failed"


def test_data_docs_show_the_validation(gate: GateDB) -> None:
    report = gate.check(current_run_id="docs-run")
    index = data_docs_index(gate.settings)
    assert index == report.data_docs_index and index.is_file()
    html = index.read_text()
    assert "snapfolio_marts" in html and "snapfolio_raw" in html and "docs-run" in html
    pages = list((index.parent / "validations").rglob("*.html"))
    run_pages = [p for p in pages if "docs-run" in p.parts]
    assert {p.parts[p.parts.index("docs-run") - 1] for p in run_pages} == {
        "snapfolio_marts", "snapfolio_raw"}
    text = "".join(p.read_text() for p in run_pages)
    for name in CHECK_NAMES:
        assert name in text, name


def test_the_database_is_left_as_it_was(gate: GateDB) -> None:
    before = snapshot_count(gate.engine)
    gate.check()
    assert snapshot_count(gate.engine) == before


# ----------------------------------------------------------------- no database needed


def test_severity_file_and_env_override(tmp_path) -> None:
    assert load_severities(env="") == {name: "error" for name in CHECK_NAMES}
    assert load_severities(env="no_stuck_runs=warning")["no_stuck_runs"] == "warning"
    cfg = tmp_path / "severity.yml"
    cfg.write_text("prices_positive: warning\n")
    got = load_severities(cfg, env="prices_positive=error,equity_identity=warning")
    assert got["prices_positive"] == "error" and got["equity_identity"] == "warning"
    with pytest.raises(ValueError, match="unknown check 'no_such_check'"):
        load_severities(env="no_such_check=warning")
    with pytest.raises(ValueError, match="severity must be 'error' or 'warning'"):
        load_severities(env="no_stuck_runs=fatal")
    cfg.write_text("prices_positive: eror\n")
    with pytest.raises(ValueError, match="eror"):
        load_severities(cfg, env="")


def test_scope_query_literals_are_safe() -> None:
    sql = scope_query(AS_OF, [3, 1], date(2025, 1, 2), "flow-run:a'b")
    assert "cast('2025-03-07' as date) as as_of" in sql
    assert "cast(array[3, 1] as bigint[]) as portfolio_ids" in sql
    assert ":" not in sql and "a'b" not in sql  # no sa.text binds, no quote injection
    assert "cast(null as bigint[])" in scope_query(AS_OF, None, None, None)
