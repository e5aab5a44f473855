"""The old system's lag: a global watermark let 11 of 13 portfolios sit while one moved.

13 portfolios; run all to 2025-03-03, one to 03-04, another to 03-05, then a plain run
to 03-07: every portfolio has exactly one snapshot per session through 03-07.
"""

from __future__ import annotations

import random
from datetime import date

import batch_helpers

from snapfolio.core import calendar
from tests.conftest import EXAMPLES

EARLY_FIXTURES = ["balanced_retirement_portfolio", "dividend_income_portfolio",
                  "small_test_portfolio", "tech_growth_portfolio", "Universe_Test_Alpha",
                  "Universe_Test_Beta", "scott_yaphe_portfolio_5M", "Sample_Template"]
HEADER = ("Symbol,Quantity,Entry Price Per Share,Entry Date,Investment Class,Investment Subtype,"
          "Underlying Symbol,Strike Price,Expiration Date,Option Type,Exit Date,Exit Price Per Share")


def generated_portfolio(seed: int) -> str:
    """A small random portfolio with entries spread over 2024 to early 2025."""
    rng = random.Random(seed)
    symbols = rng.sample(["AAPL", "MSFT", "AMZN", "JPM", "XOM", "KO", "PG", "V", "MA", "HD",
                          "NFLX", "ADBE", "INTC", "CSCO", "PEP", "T", "WMT", "CVX"], 5)
    sessions = calendar.sessions_between(date(2024, 1, 2), date(2025, 2, 28))
    lines = [HEADER]
    for symbol in symbols:
        q = rng.choice([1, -1]) * rng.randint(10, 500)
        lines.append(f"{symbol},{q},{rng.uniform(20, 400):.2f},{rng.choice(sessions)},PUBLIC,STOCK,,,,,,")
    return "\n".join(lines) + "\n"


def store_lag_book(engine, tmp_path) -> list[str]:
    """The 13 portfolios of the scenario stored (no batch run yet); their names."""
    names = []
    for stem in EARLY_FIXTURES:
        batch_helpers.store_file(engine, EXAMPLES / f"{stem}.csv", stem)
        names.append(stem)
    for i in range(5):
        path = tmp_path / f"generated_{i}.csv"
        path.write_text(generated_portfolio(i))
        batch_helpers.store_file(engine, path, path.stem)
        names.append(path.stem)
    return names


def test_thirteen_portfolios_each_filled_to_its_own_watermark(db, settings, tmp_path):
    names = store_lag_book(db.engine, tmp_path)
    assert len(names) == 13

    run = batch_helpers.run_batch
    run(db.engine, settings, db.url, as_of=date(2025, 3, 3))
    run(db.engine, settings, db.url, as_of=date(2025, 3, 4), portfolio_names=[names[0]])
    run(db.engine, settings, db.url, as_of=date(2025, 3, 5), portfolio_names=[names[1]])
    # after the partial runs the portfolios really are at different watermarks
    marks = {r["name"]: r["last_complete_date"] for r in db.rows(
        "select p.name, max(s.snapshot_date) as last_complete_date from raw.portfolios p "
        "join marts.fct_portfolio_snapshots s using (portfolio_id) group by p.name")}
    assert marks[names[0]] == date(2025, 3, 4)
    assert marks[names[1]] == date(2025, 3, 5)
    assert marks[names[2]] == date(2025, 3, 3)

    run(db.engine, settings, db.url, as_of=date(2025, 3, 7))

    first_entry = {r["name"]: r["first_entry"] for r in db.rows(
        "select p.name, min(x.entry_date) as first_entry from raw.portfolios p "
        "join raw.positions x using (portfolio_id) group by p.name")}
    stored = {}
    for r in db.rows("select p.name, s.snapshot_date, count(*) as n from raw.portfolios p "
                     "join marts.fct_portfolio_snapshots s using (portfolio_id) "
                     "group by p.name, s.snapshot_date"):
        stored.setdefault(r["name"], {})[r["snapshot_date"]] = r["n"]
    for name in names:
        expected = calendar.sessions_between(first_entry[name], date(2025, 3, 7))
        got = stored[name]
        assert sorted(got) == expected, f"{name}: missing {sorted(set(expected) - set(got))[:5]}"
        assert set(got.values()) == {1}, f"{name}: duplicated sessions"
    # and every position has one row per session it exists on
    dupes = db.scalar("select count(*) from (select 1 from marts.fct_position_values "
                      "group by position_id, snapshot_date having count(*) > 1) d")
    assert dupes == 0
    lagging = db.rows("select portfolio_id, last_complete_date from marts.portfolio_watermarks "
                      "where last_complete_date <> date '2025-03-07' or missing_sessions > 0")
    assert lagging == []
