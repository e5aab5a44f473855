"""`snapfolio prices load FILE.csv`: validation, one-transaction writes, manual precedence,
restatement of the portfolios that hold the symbols."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import batch_helpers
import pytest

from ingest.manual_prices import ManualPriceCsvError, load_manual_prices, parse_manual_prices
from ingest.price_plan import refetch_from
from ingest.providers import SyntheticProvider
from snapfolio.core import calendar

DATA = Path(__file__).parent / "data" / "prices"
GOOD = DATA / "private_funds.csv"
BAD = DATA / "bad_manual_prices.csv"
SCOTT = Path(__file__).resolve().parent.parent / "examples" / "portfolios" / "scott_yaphe_portfolio_5M.csv"
TODAY = date(2026, 1, 7)
FUNDS = ["GGIPX", "NEAIX"]
JAN = calendar.sessions_between(date(2025, 1, 2), date(2025, 1, 31))


def _state(db) -> tuple:
    return (db.rows("select * from raw.prices order by symbol, price_date"),
            db.rows("select * from raw.symbol_status order by symbol"),
            db.rows("select * from raw.restatements order by restatement_id"))


def test_valid_file_is_stored_as_manual_and_marks_symbols_available(db) -> None:
    result = load_manual_prices(db.engine, GOOD, today=TODAY)
    assert (result.rows, result.rows_stored, result.restated_portfolios) == (40, 40, 0)
    assert result.symbols == FUNDS
    assert (result.first_date, result.last_date) == (date(2025, 1, 2), date(2025, 1, 31))
    assert db.rows("select symbol, count(*) as n, min(source) as s, max(source) as t "
                   "from raw.prices group by symbol order by symbol") == [
        {"symbol": s, "n": len(JAN), "s": "manual", "t": "manual"} for s in FUNDS]
    assert db.scalar("select close from raw.prices where symbol = 'GGIPX' "
                     "and price_date = '2025-01-02'") == 22.67
    assert db.rows("select symbol, status, reason from raw.symbol_status order by symbol") == [
        {"symbol": s, "status": "available", "reason": "manual prices"} for s in FUNDS]
    assert load_manual_prices(db.engine, GOOD, today=TODAY).rows_stored == 0  # idempotent


def test_file_breaking_every_rule_is_rejected_whole(db) -> None:
    load_manual_prices(db.engine, GOOD, today=TODAY)
    before = _state(db)
    with pytest.raises(ManualPriceCsvError) as err:
        load_manual_prices(db.engine, BAD, today=TODAY)
    assert isinstance(err.value, ValueError)
    assert [(i.line, i.column) for i in err.value.issues] == [
        (5, "symbol"), (6, "symbol"), (7, "symbol"), (8, "date"), (9, "date"), (10, "date"),
        (11, "date"), (12, "close"), (13, "close"), (14, "close"), (15, "close"), (16, "close"),
        (17, "close"), (18, "adj_close"), (19, "date"), (20, "file"), (21, "file")]
    report = err.value.report().splitlines()
    assert report == [str(i) for i in err.value.issues]
    assert report[0] == "line 5, column symbol: required"
    assert "line 6, column symbol: invalid character(s) ' ' in 'GG IPX'" in report[1]
    assert report[5] == "line 10, column date: 2099-01-02 is in the future (today is 2026-01-07)"
    assert report[6] == ("line 11, column date: 2025-01-11 is not an NYSE session "
                         "(the previous session is 2025-01-10)")
    assert report[11] == "line 16, column close: must be a number > 0, got '1e3'; use plain decimal notation"
    assert report[14] == ("line 19, column date: duplicate price for GGIPX on 2025-01-06 "
                          "(first on line 3)")
    assert report[15] == "line 20: expected 4 fields like the header (line 2), found 5"
    assert str(err.value).startswith(f"{BAD}: 17 errors; first: line 5")
    assert _state(db) == before  # nothing written, not even the valid line 3


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty file"),
        (b"# only a comment\n\n", "empty file"),
        (b"symbol,date,close\n", "line 1: no prices after the header row"),
        (b"symbol;date;close\nA;2025-01-06;1\n", "line 1: expected comma-separated columns, found ';'"),
        (b"symbol,date,price\nA,2025-01-06,1\n", "line 1, column price: unknown column 'price'"),
        (b"Symbol,Date\nA,2025-01-06\n", "line 1, column close: missing required column 'close'"),
        (b"symbol,date,close,close\n", "line 1, column close: duplicate column 'close'"),
        (b"A,2025-01-06,1\n", "line 1: no header row"),
        (b"symbol,date,close\nA,2025-01-06,1\x00\n", "line 2: binary data"),
        (b"symbol,date,close\n\xe9,2025-01-06,1\n", "line 2: not valid UTF-8"),
    ],
)
def test_header_and_file_problems(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(content)
    with pytest.raises(ManualPriceCsvError) as err:
        parse_manual_prices(path, today=TODAY)
    assert expected in err.value.report()


def test_short_rows_comments_and_case(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("\ufeff# NAVs from the administrator\r\nSYMBOL,Date,Close,Adj_Close\r\n"
                    "ggipx,2025-01-06,22.40\r\n\r\nGGIPX,2025-01-07,22.5,22.1\r\n")
    frame = parse_manual_prices(path, today=TODAY)
    assert frame["symbol"].tolist() == ["GGIPX", "GGIPX"]
    assert frame["close"].tolist() == [22.40, 22.5]
    assert frame["adj_close"].isna().tolist() == [True, False]
    with pytest.raises(ManualPriceCsvError, match="cannot read file"):
        parse_manual_prices(tmp_path / "missing.csv")


def test_provider_never_overwrites_a_manual_row(db, settings) -> None:
    pid = batch_helpers.store_file(db.engine, SCOTT, "scott").portfolio_id
    as_of = date(2025, 1, 31)
    batch_helpers.ingest_prices(db.engine, settings, [pid], as_of, provider=SyntheticProvider())
    day = date(2025, 1, 10)
    provider_close = db.scalar("select close from raw.prices where symbol = 'VUG' "
                               "and price_date = :d", d=day)
    path = db.home / "vug.csv"
    path.write_text(f"symbol,date,close\nVUG,{day},{provider_close * 1.01!r}\n")
    assert load_manual_prices(db.engine, path, today=TODAY).rows_stored == 1  # manual wins
    with db.engine.begin() as conn:
        refetch_from(conn, ["VUG"], date(2025, 1, 2))
    again = batch_helpers.ingest_prices(db.engine, settings, [pid], as_of, provider=SyntheticProvider())
    assert again.provider_requests == 1 and again.rows_stored == 0
    assert db.rows("select close, source from raw.prices where symbol = 'VUG' "
                   "and price_date = :d", d=day) == [{"close": provider_close * 1.01,
                                                       "source": "manual"}]


def test_manual_prices_revalue_unavailable_funds(db, settings) -> None:
    pid = batch_helpers.store_file(db.engine, SCOTT, "scott").portfolio_id
    as_of = date(2025, 1, 31)
    provider = SyntheticProvider(unavailable=set(FUNDS))
    batch_helpers.run_batch(db.engine, settings, db.url, as_of=as_of, provider=provider)
    sources = "select symbol, price, price_source from marts.fct_position_values " \
              "where portfolio_id = :p and snapshot_date = :d and symbol = any(:s) order by symbol"
    assert {r["price_source"] for r in db.rows(sources, p=pid, d=as_of, s=FUNDS)} == {"entry"}

    result = load_manual_prices(db.engine, GOOD, today=TODAY)
    assert result.restated_portfolios == 1
    assert db.rows("select portfolio_id, from_date from raw.restatements") == [
        {"portfolio_id": pid, "from_date": date(2025, 1, 6)}]  # from the entry date on
    assert db.rows("select distinct status from raw.symbol_status where symbol = any(:s)",
                   s=FUNDS) == [{"status": "available"}]

    summary = batch_helpers.run_batch(db.engine, settings, db.url, as_of=as_of, provider=provider)
    assert not summary.unavailable and summary.prices["unavailable"] == {}
    rows = db.rows(sources, p=pid, d=as_of, s=FUNDS)
    manual = {r["symbol"]: r["close"] for r in db.rows(
        "select symbol, close from raw.prices where price_date = :d", d=as_of)}
    assert [(r["symbol"], r["price_source"]) for r in rows] == [(s, "close") for s in FUNDS]
    assert all(r["price"] == manual[r["symbol"]] for r in rows)
    assert db.scalar("select bool_and(is_complete) from marts.fct_portfolio_snapshots "
                     "where portfolio_id = :p", p=pid) is True
    # the providers were asked once for the funds; their range now counts as covered
    nothing = batch_helpers.ingest_prices(db.engine, settings, [pid], as_of, provider=provider)
    assert nothing.provider_requests == 0 and nothing.plan.requests == []
