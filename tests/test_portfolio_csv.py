"""Tests for ingest.portfolio_csv (pure Python, no database)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ingest.portfolio_csv import (
    CsvIssue,
    PortfolioCsvError,
    PositionRow,
    parse_portfolio_csv,
    parse_portfolio_text,
)

FIXTURES = Path(__file__).resolve().parent.parent / "examples" / "portfolios"
BAD = Path(__file__).parent / "data" / "bad_csv"
TODAY = date(2026, 11, 23)
HEADER = (
    "Symbol,Quantity,Entry Price Per Share,Entry Date,Investment Class,Investment Subtype,"
    "Underlying Symbol,Strike Price,Expiration Date,Option Type,Exit Date,Exit Price Per Share"
)
FIXTURE_FILES = sorted(FIXTURES.glob("*.csv"))


def _errors(path: Path | str, **kw: object) -> PortfolioCsvError:
    with pytest.raises(PortfolioCsvError) as exc_info:
        parse_portfolio_csv(path, today=TODAY, **kw)  # type: ignore[arg-type]
    return exc_info.value


def _by_symbol(rows: list[PositionRow]) -> dict[str, PositionRow]:
    return {r.symbol: r for r in rows}


# --- good fixtures -----------------------------------------------------------------------


@pytest.mark.skipif(not FIXTURE_FILES, reason="shared fixtures not present")
@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.name)
def test_every_fixture_parses(path: Path) -> None:
    rows = parse_portfolio_csv(path, today=TODAY)
    assert rows
    assert all(r.quantity != 0 and r.entry_price > 0 and r.entry_date <= TODAY for r in rows)
    assert len({(r.symbol, r.entry_date) for r in rows}) == len(rows)
    assert [r.line for r in rows] == sorted(r.line for r in rows)


def test_sample_template() -> None:
    rows = parse_portfolio_csv(FIXTURES / "Sample_Template.csv", today=TODAY)
    by = _by_symbol(rows)
    assert len(rows) == 14

    # Format A keeps its descriptive symbol.
    a = by["SPY_C450_20240315"]
    assert (a.investment_class, a.underlying_symbol, a.option_type) == ("OPTIONS", "SPY", "CALL")
    assert (a.strike, a.expiration, a.multiplier) == (Decimal("450.00"), date(2024, 3, 15), 100)
    assert by["AAPL_P160_20240315"].option_type == "PUT"

    # Format B gets a generated OCC-style symbol.
    b = by["DIA240816C00395000"]
    assert (b.line, b.underlying_symbol, b.quantity, b.multiplier) == (37, "DIA", 10, 100)
    put = by["TSLA240816P00250000"]
    assert (put.quantity, put.entry_price, put.option_type) == (Decimal(-5), Decimal("9.40"), "PUT")

    # The exited TSLA row is one field short in the fixture; it is realigned unambiguously.
    tsla = by["TSLA"]
    assert tsla.line == 43
    assert (tsla.exit_date, tsla.exit_price) == (date(2024, 1, 15), Decimal("215.00"))
    assert tsla.option_type is None and tsla.multiplier == 1

    assert by["SHOP"].quantity == Decimal(-25)  # short stock
    assert by["MSFT"].investment_class == "PUBLIC" and by["MSFT"].investment_subtype is None
    assert by["PRIVATE_FUND_A"].investment_class == "PRIVATE"
    assert by["VFIAX"].investment_subtype == "MUTUAL_FUND"
    assert all(r.multiplier == 1 for r in rows if r.investment_class != "OPTIONS")


def test_contrarian_format_b_options_and_shorts() -> None:
    rows = parse_portfolio_csv(FIXTURES / "Contrarian-Value-Trader.csv", today=TODAY)
    by = _by_symbol(rows)
    iwm = by["IWM250920C00220000"]
    assert (iwm.strike, iwm.expiration, iwm.quantity) == (Decimal("220.00"), date(2025, 9, 20), 150)
    assert by["GOOGL250816P00165000"].quantity == Decimal(-95)
    assert sum(r.investment_class == "OPTIONS" for r in rows) == 8
    assert by["SPOT"].quantity == Decimal(-850)


def test_brk_b_crlf_and_weekend_dates() -> None:
    assert "BRK.B" in _by_symbol(
        parse_portfolio_csv(FIXTURES / "balanced_retirement_portfolio.csv", today=TODAY)
    )
    rows = parse_portfolio_csv(FIXTURES / "Diversified-Growth-Investor.csv", today=TODAY)
    assert rows[0].symbol == "SPY" and rows[0].line == 2  # CRLF line endings
    alpha = _by_symbol(parse_portfolio_csv(FIXTURES / "Universe_Test_Alpha.csv", today=TODAY))
    assert alpha["SPY"].entry_date == date(2024, 9, 15)  # a Sunday: kept as given


def test_bom_minimal_header_lowercase_and_c_p(tmp_path: Path) -> None:
    text = (
        "\ufeff  symbol , QUANTITY,entry price per share,Entry Date,Underlying Symbol,"
        "Strike Price,Expiration Date,Option Type\r\n"
        "# comment\r\n\r\n"
        "brk.b,1.5,350.25,2024-01-02,,,,\r\n"
        ",2,1.05,2024-01-02,spy,450.5,2027-01-15,p\r\n"
    )
    path = tmp_path / "bom.csv"
    path.write_bytes(text.encode("utf-8"))
    brk, opt = parse_portfolio_csv(path, today=TODAY)
    assert (brk.line, brk.symbol, brk.quantity) == (4, "BRK.B", Decimal("1.5"))
    assert (opt.line, opt.symbol, opt.investment_class) == (5, "SPY270115P00450500", "OPTIONS")
    assert opt.underlying_symbol == "SPY" and opt.expiration > TODAY  # future expiry is fine


def test_short_row_is_error_when_ambiguous_or_invalid() -> None:
    text = f"{HEADER}\nAAPL,10,1.00,2024-01-01,,,,,,,,\nX,10,5.00,2024-01-01,,,,,,,6.00\n"
    with pytest.raises(PortfolioCsvError) as exc_info:
        parse_portfolio_text(text, today=TODAY)
    assert [(i.line, i.column) for i in exc_info.value.issues] == [(3, "file")]


# --- bad input ---------------------------------------------------------------------------

EXPECTED_EVERY_RULE: dict[tuple[int, str], str] = {
    (5, "Symbol"): "invalid character",
    (5, "Quantity"): "must be a non-zero number, got 'abc'",
    (6, "Symbol"): "'$'",
    (6, "Quantity"): "non-zero",
    (6, "Entry Price Per Share"): "> 0",
    (6, "Entry Date"): "YYYY-MM-DD",
    (7, "Symbol"): "required",
    (8, "Symbol"): "';'",
    (8, "Quantity"): "at most 6 decimal places",
    (8, "Entry Price Per Share"): "at most 2 decimal places",
    (8, "Entry Date"): "future",
    (9, "Quantity"): "plain decimal",
    (9, "Entry Price Per Share"): "'nan'",
    (9, "Entry Date"): "'2024-02-30'",
    (9, "Investment Class"): "must be one of",
    (9, "Investment Subtype"): "WIDGET",
    (10, "Exit Price Per Share"): "required when Exit Date",
    (10, "Exit Date"): "must be after Entry Date",
    (11, "Exit Date"): "required when Exit Price",
    (12, "Exit Date"): "future",
    (12, "Exit Price Per Share"): "> 0",
    (13, "Underlying Symbol"): "required for an option row",
    (13, "Strike Price"): "required for an option row",
    (13, "Expiration Date"): "required for an option row",
    (13, "Option Type"): "required for an option row",
    (14, "Strike Price"): "> 0",
    (14, "Expiration Date"): "YYYY-MM-DD",
    (14, "Option Type"): "CALL or PUT",
    (15, "Investment Class"): "conflicts",
    (15, "Strike Price"): "3 decimal places",
    (15, "Expiration Date"): "before Entry Date",
    (16, "Underlying Symbol"): "invalid character",
    (17, "Symbol"): "first on line 4",
    (19, "file"): "expected 12 fields",
    (20, "Symbol"): "longer than 32",
    (21, "Quantity"): "'inf'",
    (21, "Entry Date"): "required",
    (22, "Entry Price Per Share"): "required",
    (23, "file"): "malformed",
    (26, "file"): "found 3",
}


def test_every_rule_broken_once() -> None:
    err = _errors(BAD / "every_rule.csv")
    got = {(i.line, i.column): i.message for i in err.issues}
    assert len(got) == len(err.issues), "at most one issue per (line, column)"
    assert set(got) == set(EXPECTED_EVERY_RULE)
    for key, fragment in EXPECTED_EVERY_RULE.items():
        assert fragment in got[key], (key, got[key])
    n = len(EXPECTED_EVERY_RULE)
    assert str(err) == (
        f"{BAD / 'every_rule.csv'}: {n} errors; first: line 5, column Symbol: " + got[(5, "Symbol")]
    )
    report = err.report().splitlines()
    assert len(report) == n
    assert "line 5, column Quantity: must be a non-zero number, got 'abc'" in report
    assert "line 19: expected 12 fields like the header (line 3), found 13" in report


@pytest.mark.parametrize(
    ("name", "line", "fragment"),
    [
        ("empty.csv", 0, "empty file"),
        ("comments_only.csv", 0, "empty file"),
        ("semicolon.csv", 1, "expected comma-separated columns, found ';'"),
        ("tab.csv", 1, "expected comma-separated columns, found tab"),
        ("binary_garbage.csv", 3, "NUL"),
        ("latin1.csv", 2, "not valid UTF-8"),
        ("no_header.csv", 1, "no header row"),
        ("header_only.csv", 1, "no positions"),
    ],
)
def test_file_level_errors(name: str, line: int, fragment: str) -> None:
    err = _errors(BAD / name)
    assert [(i.line, i.column) for i in err.issues] == [(line, "file")]
    assert fragment in err.issues[0].message
    assert str(err).startswith(f"{BAD / name}: 1 error; first: ")


def test_missing_and_unknown_columns() -> None:
    err = _errors(BAD / "missing_columns.csv")
    assert {(i.line, i.column) for i in err.issues} == {
        (2, "Notes"),
        (2, "Quantity"),
        (2, "Entry Date"),
    }
    assert "missing required column 'Quantity'" in err.report()
    assert "unknown column 'Notes'" in err.report()


def test_unreadable_path(tmp_path: Path) -> None:
    err = _errors(tmp_path / "nope.csv")
    assert err.issues[0].column == "file" and "cannot read file" in err.issues[0].message


def test_issue_str_and_today_default() -> None:
    assert str(CsvIssue(7, "Quantity", "bad")) == "line 7, column Quantity: bad"
    assert str(CsvIssue(3, "file", "bad")) == "line 3: bad"
    assert str(CsvIssue(0, "file", "bad")) == "bad"
    future = f"{HEADER}\nAAPL,1,1.00,2999-01-01,,,,,,,,\n"
    with pytest.raises(PortfolioCsvError, match="future"):
        parse_portfolio_text(future)
    assert isinstance(PortfolioCsvError("x", []), ValueError)
