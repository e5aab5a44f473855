"""The gate's risk checks (issues 14 and 15): a clean database passes every check, and
each way of breaking the risk marts fails exactly the check meant to catch it, naming
the portfolio (and only the broken one).

The database is built once per module through the flow's own code (batch_helpers.
run_batch, synthetic prices, a year of history so every risk window fills): `alpha`
with longs, a short, an exit and an option; `beta`, two longs. GX reads through its own
connections, so every break is committed and undone in a `finally` (the touched rows
are stashed and put back exactly as they were).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from expectations import CHECK_NAMES, CheckReport, run_checks
from snapfolio.core.settings import Settings, load_settings

if TYPE_CHECKING:  # imported for typing only: pytest would try to collect a Test* class
    from tests.conftest import TestDatabase

AS_OF = date(2025, 12, 31)
MIDDLE = date(2025, 9, 15)
EARLY = date(2025, 4, 1)
RISK_CHECKS = (
    "every_snapshot_has_risk",
    "every_open_position_has_position_risk",
    "sector_gross_equals_snapshot_gross",
    "risk_contributions_sum_to_one",
    "risk_numbers_in_range",
    "every_active_scenario_has_a_result",
    "correlations_within_bounds",
    "factor_covariance_psd",
)
HEADER = ("Symbol,Quantity,Entry Price Per Share,Entry Date,Investment Class,Investment Subtype,"
          "Underlying Symbol,Strike Price,Expiration Date,Option Type,Exit Date,"
          "Exit Price Per Share\n")
BOOKS = {
    "alpha": HEADER
    + "AAPL,100,180.00,2025-01-06,PUBLIC,STOCK,,,,,,\n"
    + "MSFT,50,420.00,2025-01-06,PUBLIC,STOCK,,,,,,\n"
    + "XOM,-80,110.00,2025-01-06,PUBLIC,STOCK,,,,,,\n"
    + "JPM,40,240.00,2025-01-06,PUBLIC,STOCK,,,,,2025-06-30,250.00\n"
    + ",10,12.50,2025-02-03,OPTIONS,,SPY,600.00,2025-09-19,CALL,,\n",
    "beta": HEADER
    + "KO,200,62.00,2025-01-06,PUBLIC,STOCK,,,,,,\n"
    + "PG,100,165.00,2025-01-06,PUBLIC,STOCK,,,,,,\n",
}


@dataclass
class GateDB:
    settings: Settings
    engine: Engine
    ids: dict[str, int]

    def check(self, **kwargs: Any) -> CheckReport:
        kwargs.setdefault("as_of", AS_OF)
        return run_checks(self.settings, engine=self.engine, **kwargs)

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.scalar(sa.text(sql), params)


@pytest.fixture(scope="module")
def gate(test_database: TestDatabase, tmp_path_factory) -> GateDB:
    import batch_helpers

    test_database.reset()
    settings = load_settings()  # conftest points it at the test database, synthetic prices
    assert settings.price_provider == "synthetic"
    engine = test_database.engine
    folder = tmp_path_factory.mktemp("books")
    ids = {}
    for name, text in BOOKS.items():
        (folder / f"{name}.csv").write_text(text)
        ids[name] = batch_helpers.store_file(engine, folder / f"{name}.csv", name).portfolio_id
    batch_helpers.run_batch(engine, settings, test_database.url, as_of=AS_OF)
    return GateDB(settings=settings, engine=engine, ids=ids)


def failing(report: CheckReport) -> dict[str, str]:
    return {r["name"]: r["details"] for r in report.results if not r["success"]}


@contextmanager
def broken(gate: GateDB, table: str, where: str, change: str, **params: Any) -> Iterator[list]:
    """Apply `change` (an UPDATE's SET list, or 'delete') to the rows of `table` matching
    `where`; afterwards put the original rows back exactly (delete, re-insert)."""
    with gate.engine.begin() as conn:
        rows = [dict(r) for r in conn.execute(
            sa.text(f"select * from {table} where {where}"), params).mappings()]
        assert rows, f"nothing to break in {table} where {where} {params}"
        if change == "delete":
            conn.execute(sa.text(f"delete from {table} where {where}"), params)
        else:
            conn.execute(sa.text(f"update {table} set {change} where {where}"), params)
    try:
        yield rows
    finally:
        cols = list(rows[0])
        with gate.engine.begin() as conn:
            conn.execute(sa.text(f"delete from {table} where {where}"), params)
            conn.execute(sa.text(f"insert into {table} ({', '.join(cols)}) "
                                 f"values ({', '.join(':' + c for c in cols)})"), rows)


# ---------------------------------------------------------------------------------- tests


def test_clean_database_passes_every_check(gate: GateDB) -> None:
    report = gate.check()
    assert [r["name"] for r in report.results] == list(CHECK_NAMES)
    assert set(RISK_CHECKS) <= set(CHECK_NAMES)
    assert report.success and report.status == "passed", failing(report)
    # the checks had something to read: every risk mart is filled for both portfolios
    for table in ("fct_portfolio_risk", "fct_position_risk", "fct_portfolio_sector_exposures",
                  "fct_portfolio_stress_results", "fct_position_correlations"):
        assert gate.scalar(f"select count(distinct portfolio_id) from marts.{table}") == 2, table
    assert gate.scalar("select count(*) from marts.fct_portfolio_risk "
                       "where holdings_vol_63d > 0 and avg_pairwise_correlation is not null") > 100
    assert gate.scalar("select count(distinct as_of_date) from marts.fct_factor_covariances") > 200
    # the exited position has no risk row after its exit, and the gate does not expect one
    assert gate.scalar("select count(*) from marts.fct_position_risk where symbol = 'JPM' "
                       "and snapshot_date >= date '2025-06-30'") == 0
    # the same with a run's scope (its portfolios, its sessions)
    scoped = gate.check(portfolio_ids=[gate.ids["beta"]], since=MIDDLE, current_run_id="r-1")
    assert scoped.success, failing(scoped)


def test_missing_portfolio_risk_row(gate: GateDB) -> None:
    with broken(gate, "marts.fct_portfolio_risk", "portfolio_id = :p and snapshot_date = :d",
                "delete", p=gate.ids["alpha"], d=AS_OF):
        report = gate.check()
        other = gate.check(portfolio_ids=[gate.ids["beta"]])
        before = gate.check(since=MIDDLE, as_of=date(2025, 12, 30))
    failed = failing(report)
    assert set(failed) == {"every_snapshot_has_risk"}
    assert failed["every_snapshot_has_risk"] == (
        "portfolio alpha: no fct_portfolio_risk row for 1 snapshot(s) 2025-12-31..2025-12-31")
    assert report.status == "failed"
    assert other.success and before.success  # scoped by portfolio and by session


def test_missing_position_risk_row(gate: GateDB) -> None:
    where = ("portfolio_id = :p and snapshot_date = :d and position_id = "
             "(select position_id from raw.positions where portfolio_id = :p and symbol = 'MSFT')")
    with broken(gate, "marts.fct_position_risk", where, "delete",
                p=gate.ids["alpha"], d=MIDDLE) as rows:
        report = gate.check()
        later = gate.check(since=date(2025, 9, 16))
    failed = failing(report)
    # a missing position row also leaves its contribution out of the portfolio's sum
    assert abs(rows[0]["risk_contribution"]) > 1e-3
    assert set(failed) == {"every_open_position_has_position_risk", "risk_contributions_sum_to_one"}
    assert failed["every_open_position_has_position_risk"] == (
        f"portfolio alpha: MSFT (position {rows[0]['position_id']}) open but no "
        "fct_position_risk row on 1 session(s) 2025-09-15..2025-09-15")
    assert failed["risk_contributions_sum_to_one"].startswith(
        "portfolio alpha: risk contributions do not sum to 1 on 1 session(s) "
        "2025-09-15..2025-09-15")
    assert later.success


def test_expired_option_needs_no_risk_row_but_an_open_one_does(gate: GateDB) -> None:
    """The option expires 2025-09-19: open through that session, not after it."""
    option = ("position_id = (select position_id from raw.positions "
              "where portfolio_id = :p and underlying_symbol = 'SPY')")
    assert gate.scalar(f"select count(*) from marts.fct_position_risk where {option} "
                       "and snapshot_date > date '2025-09-19'", p=gate.ids["alpha"]) == 0
    with broken(gate, "marts.fct_position_risk",
                f"{option} and snapshot_date = date '2025-09-19'", "delete", p=gate.ids["alpha"]):
        report = gate.check(since=date(2025, 9, 19))
    assert "every_open_position_has_position_risk" in failing(report)
    assert "2025-09-19..2025-09-19" in failing(report)["every_open_position_has_position_risk"]


def test_sector_gross_differs_from_snapshot_gross(gate: GateDB) -> None:
    where = ("portfolio_id = :p and snapshot_date = :d and sector = "
             "(select min(sector) from marts.fct_portfolio_sector_exposures "
             " where portfolio_id = :p and snapshot_date = :d)")
    with broken(gate, "marts.fct_portfolio_sector_exposures", where,
                "gross_exposure = gross_exposure + 100", p=gate.ids["beta"], d=MIDDLE):
        report = gate.check()
    failed = failing(report)
    assert set(failed) == {"sector_gross_equals_snapshot_gross"}
    detail = failed["sector_gross_equals_snapshot_gross"]
    assert detail.startswith("portfolio beta: sector gross exposures do not sum to the snapshot "
                             "gross_exposure on 1 session(s) 2025-09-15..2025-09-15")
    assert "alpha" not in detail
    gross = gate.scalar("select gross_exposure from marts.fct_portfolio_snapshots "
                        "where portfolio_id = :p and snapshot_date = :d",
                        p=gate.ids["beta"], d=MIDDLE)
    reported = float(detail.rsplit("worst relative error ", 1)[1].rstrip(")"))
    assert reported == pytest.approx(100 / gross, rel=1e-9)


def test_missing_sector_rows_count_as_zero(gate: GateDB) -> None:
    with broken(gate, "marts.fct_portfolio_sector_exposures",
                "portfolio_id = :p and snapshot_date = :d", "delete", p=gate.ids["alpha"], d=EARLY):
        report = gate.check()
    assert set(failing(report)) == {"sector_gross_equals_snapshot_gross"}
    assert failing(report)["sector_gross_equals_snapshot_gross"].startswith(
        "portfolio alpha: sector gross exposures do not sum to the snapshot gross_exposure on "
        "1 session(s) 2025-04-01..2025-04-01 (worst relative error 1)")


def test_risk_contributions_that_do_not_sum_to_one(gate: GateDB) -> None:
    where = ("portfolio_id = :p and snapshot_date = :d and position_id = "
             "(select min(position_id) from marts.fct_position_risk "
             " where portfolio_id = :p and snapshot_date = :d)")
    with broken(gate, "marts.fct_position_risk", where,
                "risk_contribution = risk_contribution + 0.01", p=gate.ids["beta"], d=AS_OF):
        report = gate.check()
    failed = failing(report)
    assert set(failed) == {"risk_contributions_sum_to_one"}
    assert failed["risk_contributions_sum_to_one"].startswith(
        "portfolio beta: risk contributions do not sum to 1 on 1 session(s) "
        "2025-12-31..2025-12-31 (worst sum 1.01")
    assert "0 null contribution(s)" in failed["risk_contributions_sum_to_one"]

    # within 1e-6 passes; a null contribution where the sum is defined does not
    with broken(gate, "marts.fct_position_risk", where,
                "risk_contribution = risk_contribution + 5e-7", p=gate.ids["beta"], d=AS_OF):
        assert gate.check().success
    with broken(gate, "marts.fct_position_risk", where,
                "risk_contribution = null", p=gate.ids["beta"], d=AS_OF):
        assert "1 null contribution(s)" in failing(gate.check())["risk_contributions_sum_to_one"]


def test_risk_numbers_out_of_range(gate: GateDB) -> None:
    alpha = gate.ids["alpha"]
    breaks = [
        ("realized_vol_21d = -0.1", date(2025, 12, 1), "realized_vol_21d < 0 or not finite"),
        ("har_vol_1d = 'NaN'", date(2025, 12, 2), "har_vol_1d < 0 or not finite"),
        ("holdings_vol_63d = 'Infinity'", date(2025, 12, 3), "holdings_vol_63d < 0 or not finite"),
        ("hhi = 0", date(2025, 12, 4), "hhi outside (0, 10000]"),
        ("hhi = 10000.5", date(2025, 12, 5), "hhi outside (0, 10000]"),
        ("top_3_weight = top_10_weight + 0.01, top_10_weight = top_10_weight - 0.5",
         date(2025, 12, 8), "top_3_weight > top_10_weight"),
        ("top_10_weight = 1.5", date(2025, 12, 9), "top_10_weight > 1"),
        ("var_95_1d = cvar_95_1d + 0.001", date(2025, 12, 10), "var_95_1d > cvar_95_1d"),
        ("drawdown = 0.05", date(2025, 12, 11), "drawdown > 0"),
        ("max_drawdown = drawdown + 0.01", date(2025, 12, 12), "max_drawdown > drawdown"),
    ]
    with ExitStack() as stack:
        for change, day, _ in breaks:
            stack.enter_context(broken(gate, "marts.fct_portfolio_risk",
                               "portfolio_id = :p and snapshot_date = :d", change, p=alpha, d=day))
        stack.enter_context(broken(gate, "marts.fct_position_risk",
                           "portfolio_id = :p and snapshot_date = :d and symbol = 'KO'",
                           "realized_vol_63d = -0.2", p=gate.ids["beta"], d=date(2025, 12, 15)))
        report = gate.check()
        beta_only = gate.check(portfolio_ids=[gate.ids["beta"]])
    failed = failing(report)
    assert set(failed) == {"risk_numbers_in_range"}
    details = failed["risk_numbers_in_range"].split("; ")
    for change, day, problem in breaks:
        expected = f"portfolio alpha: {problem} on "
        hits = [d for d in details if d.startswith(expected)]
        assert hits, (change, details)
        assert f"{day}" in hits[0], (change, hits)
    assert ("portfolio alpha: hhi outside (0, 10000] on 2 row(s) 2025-12-04..2025-12-05 "
            "(first: 0)") in details
    assert ("portfolio beta: position realized_vol_63d < 0 or not finite on 1 row(s) "
            "2025-12-15..2025-12-15 (first: -0.2)") in details
    assert len(details) == len({p for _, _, p in breaks}) + 1  # nothing else flagged
    assert failing(beta_only)["risk_numbers_in_range"].startswith("portfolio beta:")
    assert "alpha" not in failing(beta_only)["risk_numbers_in_range"]


def test_missing_stress_result(gate: GateDB) -> None:
    with broken(gate, "marts.fct_portfolio_stress_results",
                "portfolio_id = :p and snapshot_date = :d and scenario_id = 'market_crash_35'",
                "delete", p=gate.ids["beta"], d=MIDDLE):
        report = gate.check()
    failed = failing(report)
    assert set(failed) == {"every_active_scenario_has_a_result"}
    assert failed["every_active_scenario_has_a_result"] == (
        "portfolio beta: 1 missing stress result(s) on 1 session(s) 2025-09-15..2025-09-15 "
        "(scenarios: market_crash_35)")
    # the 19 active scenarios are expected, the 3 inactive replays are not
    assert gate.scalar("select count(distinct scenario_id) from marts.fct_portfolio_stress_results"
                       ) == 19
    with broken(gate, "marts.fct_portfolio_stress_results",
                "portfolio_id = :p and snapshot_date = :d", "delete", p=gate.ids["alpha"], d=AS_OF):
        detail = failing(gate.check())["every_active_scenario_has_a_result"]
    assert detail.startswith("portfolio alpha: 19 missing stress result(s) on 1 session(s)")


def test_correlations_out_of_bounds(gate: GateDB) -> None:
    alpha = gate.ids["alpha"]
    pair = ("portfolio_id = :p and (symbol_a, symbol_b) = "
            "(select symbol_a, symbol_b from marts.fct_position_correlations where portfolio_id = :p "
            " order by symbol_a, symbol_b limit 1 offset :k)")
    with ExitStack() as stack:
        stack.enter_context(broken(gate, "marts.fct_position_correlations", pair,
                           "correlation = 1.5", p=alpha, k=0))
        stack.enter_context(broken(gate, "marts.fct_position_correlations", pair,
                           "n_obs = 29", p=alpha, k=1))
        stack.enter_context(broken(gate, "marts.fct_portfolio_risk",
                           "portfolio_id = :p and snapshot_date = :d",
                           "avg_pairwise_correlation = -1.2", p=gate.ids["beta"], d=MIDDLE))
        report = gate.check()
    failed = failing(report)
    assert set(failed) == {"correlations_within_bounds"}
    details = failed["correlations_within_bounds"].split("; ")
    assert len(details) == 3, details
    assert details[0].startswith("portfolio alpha: correlation outside [-1, 1] on 1 row(s) "
                                 "2025-12-31..2025-12-31 (first: ")
    assert details[0].endswith(" 1.5)")
    assert details[1].startswith("portfolio alpha: n_obs < 30 on 1 row(s)")
    assert details[1].endswith("n_obs 29)")
    assert details[2] == ("portfolio beta: avg_pairwise_correlation outside [-1, 1] on 1 row(s) "
                          "2025-09-15..2025-09-15 (first: -1.2)")
    # exactly +-1 is a correlation
    with broken(gate, "marts.fct_position_correlations", pair, "correlation = -1", p=alpha, k=0):
        assert gate.check().success


def test_factor_covariance_not_symmetric_not_psd_or_incomplete(gate: GateDB) -> None:
    cell = "as_of_date = :d and factor_a = :a and factor_b = :b"
    both = "as_of_date = :d and factor_a in ('market_beta', 'value') " \
           "and factor_b in ('market_beta', 'value') and factor_a <> factor_b"
    scale = gate.scalar("select sqrt(max(covariance)) * 20 from marts.fct_factor_covariances "
                        "where as_of_date = :d and factor_a = factor_b", d=date(2025, 12, 29))
    with ExitStack() as stack:
        stack.enter_context(broken(gate, "marts.fct_factor_covariances", cell,
                           "covariance = covariance * (1 + 1e-9)",
                           d=AS_OF, a="market_beta", b="value"))
        # symmetric, but the (market_beta, value) minor is negative: not PSD
        stack.enter_context(broken(gate, "marts.fct_factor_covariances", both,
                           f"covariance = {scale ** 2}", d=date(2025, 12, 29)))
        stack.enter_context(broken(gate, "marts.fct_factor_covariances", cell, "delete",
                           d=date(2025, 12, 26), a="size", b="growth"))
        stack.enter_context(broken(gate, "marts.fct_factor_covariances", cell, "covariance = 'NaN'",
                           d=date(2025, 12, 24), a="size", b="size"))
        report = gate.check()
        before = gate.check(as_of=date(2025, 12, 23))
        beta_only = gate.check(portfolio_ids=[gate.ids["beta"]], since=AS_OF)
    failed = failing(report)
    assert set(failed) == {"factor_covariance_psd"}
    details = failed["factor_covariance_psd"].split("; ")
    assert details[0] == ("portfolios alpha, beta: factor covariance of 2025-12-24 has a "
                          "non-finite entry")
    assert details[1] == ("portfolios alpha, beta: factor covariance of 2025-12-26 is not a "
                          "complete 8 x 8 matrix (64 ordered pairs of the same 8 factors)")
    assert details[2].startswith("portfolios alpha, beta: factor covariance of 2025-12-29 is not "
                                 "positive semi-definite (smallest eigenvalue -")
    assert details[3].startswith("portfolios alpha, beta: factor covariance of 2025-12-31 is not "
                                 "symmetric (|S_ab - S_ba| = ")
    assert details[3].endswith("for market_beta/value)")
    assert len(details) == 4
    psd = next(r for r in report.results if r["name"] == "factor_covariance_psd")
    assert psd["unexpected_count"] == 4
    assert before.success  # sessions after as_of are not read
    assert failing(beta_only)["factor_covariance_psd"].startswith("portfolio beta: ")


# ----------------------------------------------------------------- no database needed


def test_covariance_offenders_tolerances_and_reference() -> None:
    """The numpy check against a plain per-matrix loop (numpy's eigvalsh per session)."""
    from expectations.python_checks import covariance_offenders

    rng = np.random.default_rng(7)
    factors = sorted(["market_beta", "ir_beta", "value", "growth", "momentum", "quality",
                      "size", "low_vol"])
    mats = []
    for _ in range(6):
        x = rng.normal(size=(80, 8)) * 0.01
        mats.append(np.cov(x, rowvar=False))
    rank_deficient = np.outer(np.arange(1, 9), np.arange(1, 9)) * 1e-5  # PSD, eigenvalues ~0
    mats[1] = rank_deficient
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    mats[2] = q @ np.diag([1e-4] * 7 + [-1e-13]) @ q.T  # within tolerance
    mats[2] = (mats[2] + mats[2].T) / 2
    mats[3] = q @ np.diag([1e-4] * 7 + [-1e-10]) @ q.T  # beyond it
    mats[3] = (mats[3] + mats[3].T) / 2
    mats[4] = mats[4].copy()
    mats[4][0, 5] *= 1 + 1e-13  # asymmetric within 1e-12 relative
    mats[5] = mats[5].copy()
    mats[5][2, 6] *= 1 + 1e-11  # beyond it
    dates = [f"2025-01-0{i + 1}" for i in range(6)]
    gathered = {
        "as_of_dates": dates,
        "complete": [True] * 6,
        "covariances": [m.ravel().tolist() for m in mats],
        "factors": [factors] * 6,
        "used_by": ["portfolio p"] * 6,
    }
    got = {r["as_of_date"]: r for r in covariance_offenders(gathered)}

    expected = {}  # plain reference: one matrix at a time
    for day, m in zip(dates, mats, strict=True):
        asym = max(abs(m[a, b] - m[b, a]) > 1e-12 * max(abs(m[a, b]), abs(m[b, a]))
                   for a in range(8) for b in range(8))
        smallest = min(np.linalg.eigvalsh((m + m.T) / 2))
        if asym:
            expected[day] = "symmetric"
        elif smallest < -1e-12:
            expected[day] = "positive semi-definite"
    assert set(got) == set(expected) == {"2025-01-04", "2025-01-06"}
    for day, word in expected.items():
        assert f"is not {word}" in got[day]["detail"], got[day]
        assert got[day]["detail"].startswith(f"portfolio p: factor covariance of {day} ")
    assert got["2025-01-06"]["detail"].endswith(f"for {factors[2]}/{factors[6]})")
    assert got["2025-01-04"]["smallest_eigenvalue"] == pytest.approx(-1e-10, rel=1e-3)
    assert covariance_offenders(None) == []
    assert covariance_offenders({"as_of_dates": None}) == []
