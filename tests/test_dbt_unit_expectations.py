"""The expected rows of the dbt unit tests for option settlement, carry-forward and the
work set, re-derived from their given rows by plain implementations of DESIGN.md
("Accounting", "The batch flow"): the yml expectations are then checked by a second,
independent reading of the rules, not just written down once next to the model.
`dbt build` (tests/test_dbt_project.py) checks the models against the same rows."""

from __future__ import annotations

import ast
import re
from datetime import date
from pathlib import Path

import pytest
import yaml

MODELS = Path(__file__).resolve().parent.parent / "dbt_project" / "models"
PROJECT = MODELS.parent / "dbt_project.yml"


def unit_test(name: str) -> dict:
    for path in sorted(MODELS.rglob("*.yml")):
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", []):
            if test["name"] == name:
                return test
    raise LookupError(f"unit test {name} not found under {MODELS}")


def sql_values(sql: str) -> list[dict]:
    """Rows of a `format: sql` fixture written as `from (values ...) as t (columns)`."""
    sql = re.sub(r"--[^\n]*", "", sql)
    body = re.search(r"\(values(.*)\)\s*as\s+\w+\s*\(([^)]*)\)", sql, re.DOTALL)
    if body is None:  # an empty fixture (`limit 0`)
        return []
    columns = [c.strip() for c in body.group(2).split(",")]
    literal = body.group(1)
    for word, value in (("true", "True"), ("false", "False"), ("null", "None")):
        literal = re.sub(rf"\b{word}\b", value, literal)
    rows = ast.literal_eval(f"[{literal}]")
    return [dict(zip(columns, row, strict=True)) for row in rows]


def given(test: dict, source: str) -> list[dict]:
    for item in test["given"]:
        if item["input"] == source:
            if item.get("format") == "sql":
                return sql_values(item["rows"])
            return [dict(row) for row in item["rows"]]
    raise LookupError(f"{test['name']} has no input {source}")


def day(value) -> date | None:
    return None if value is None else date.fromisoformat(str(value))


def expected(test: dict) -> set[tuple]:
    """The yml's expected rows, as sorted (column, value) tuples with dates parsed."""
    return {normalized(row) for row in test["expect"]["rows"]}


def normalized(row: dict) -> tuple:
    out = []
    for key, value in sorted(row.items()):
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", value):
            value = date.fromisoformat(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            value = round(float(value), 9)
        out.append((key, value))
    return tuple(out)


def project_stale_sessions() -> int:
    return int(yaml.safe_load(PROJECT.read_text())["vars"]["stale_price_sessions"])


def test_stale_window_var_is_designs_five_sessions():
    # DESIGN.md "Accounting": "the last close within the 5 previous sessions"
    assert project_stale_sessions() == 5


def test_option_settlement_expectations():
    test = unit_test("option_without_exit_settles_at_intrinsic_value_after_expiry")
    calendar = sorted((day(s["session_date"]), s["session_index"])
                      for s in given(test, "ref('stg_trading_sessions')"))
    closes = [(p["symbol"], day(p["price_date"]), p["close"]) for p in given(test, "ref('stg_prices')")]
    rows = set()
    for pos in given(test, "ref('stg_positions')"):
        entry = day(pos["entry_date"])
        first_index = next(i for d, i in calendar if d >= entry)
        exit_date, exit_price = day(pos.get("exit_date")), pos.get("exit_price")
        expiration = day(pos.get("expiration"))
        if exit_date is None and expiration is not None:
            after = [d for d, _ in calendar if d > expiration]
            if after:  # closes on the first session after expiry
                exit_date = after[0]
                before = [(d, c) for s, d, c in closes
                          if s == pos["underlying_symbol"] and d <= expiration]
                if not before:
                    exit_price = pos["entry_price"]
                else:
                    underlying = max(before)[1]
                    if pos["option_type"] == "CALL":
                        exit_price = max(underlying - pos["strike"], 0)
                    else:
                        exit_price = max(pos["strike"] - underlying, 0)
        rows.add(normalized({"position_id": pos["position_id"], "first_session_index": first_index,
                             "exit_date": exit_date, "exit_price": exit_price}))
    assert rows == expected(test)


def test_carry_forward_expectations():
    test = unit_test("carry_forward_within_the_work_range")
    stale = test["overrides"]["vars"]["stale_price_sessions"]
    work = given(test, "ref('int_portfolio_work_sessions')")
    calendar = {s["session_index"]: day(s["session_date"])
                for s in given(test, "ref('stg_trading_sessions')")}
    low = min(w["previous_session_index"] for w in work) - stale
    high = max(w["session_index"] for w in work)
    portfolios = {w["portfolio_id"] for w in work}
    symbols = {p["symbol"] for p in given(test, "ref('int_positions')") if p["portfolio_id"] in portfolios}
    closes = given(test, "ref('stg_prices')")
    rows = set()
    for symbol in symbols:
        for index in range(low, high + 1):
            on_or_before = sorted((day(c["price_date"]), c["close"]) for c in closes
                                  if c["symbol"] == symbol and day(c["price_date"]) <= calendar[index])
            last_close = on_or_before[-1][1] if on_or_before else None
            age = None
            if on_or_before and on_or_before[-1][0] >= calendar[low]:
                close_index = next(i for i, d in calendar.items() if d == on_or_before[-1][0])
                age = index - close_index
            rows.add(normalized({"symbol": symbol, "session_index": index,
                                 "session_date": calendar[index], "last_close": last_close,
                                 "sessions_since_close": age}))
    assert rows == expected(test)


def test_work_set_expectations():
    """Per portfolio (never a global date): a session from the first entry through as_of
    is work unless it is built (a complete or final snapshot with position_count × factors
    exposure rows), and every session from the earliest restatement mark on is work."""
    test = unit_test("work_set_fills_holes_restates_and_skips_built_portfolios")
    (scope,) = given(test, "ref('stg_build_scope')")
    as_of = day(scope["as_of"])
    calendar = sorted((day(s["session_date"]), s["session_index"])
                      for s in given(test, "ref('stg_trading_sessions')"))
    n_factors = len(given(test, "ref('factor_definitions')"))
    snapshots = {(s["portfolio_id"], day(s["snapshot_date"])): s
                 for s in given(test, "source('marts', 'fct_portfolio_snapshots')")}
    counts = {(c["portfolio_id"], day(c["snapshot_date"])): c["exposure_rows"]
              for c in given(test, "source('marts', 'fct_position_factor_exposures_counts')")}
    positions = given(test, "ref('stg_positions')")
    marks = given(test, "ref('stg_restatements')")
    rows = set()
    for portfolio in given(test, "ref('stg_portfolios')"):
        pid = portfolio["portfolio_id"]
        entries = [day(p["entry_date"]) for p in positions if p["portfolio_id"] == pid]
        if not portfolio["is_active"] or not entries:
            continue
        restate_from = min((day(m["restate_from_date"]) for m in marks if m["portfolio_id"] == pid),
                           default=None)
        previous = None
        for session, index in calendar:
            if min(entries) <= session <= as_of:
                snap = snapshots.get((pid, session))
                built = (snap is not None and (snap["is_complete"] or snap["is_final"])
                         and counts.get((pid, session), 0) >= snap["position_count"] * n_factors)
                restated = restate_from is not None and session >= restate_from
                if restated or not built:
                    rows.add(normalized({
                        "portfolio_id": pid, "snapshot_date": session, "session_index": index,
                        "previous_session_date": previous[0] if previous else None,
                        "previous_session_index": index - 1}))
            previous = (session, index)
    assert rows == expected(test)


@pytest.mark.parametrize("sql, rows", [
    ("select 1 limit 0", []),
    ("from (values (1, 'a', true), -- x\n (2, null, false)) as t (n, s, b)",
     [{"n": 1, "s": "a", "b": True}, {"n": 2, "s": None, "b": False}]),
])
def test_sql_values_reader(sql, rows):
    assert sql_values(sql) == rows
