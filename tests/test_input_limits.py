"""DESIGN "Input limits" at parser level: one regression test per finding of issue #16 in
the CSV readers and the value validators (each failed on the code before the shared
reader), plus the RFC 4180 cases and the reader's own limits.

Expected lines and columns are written out by hand from the test files below.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ingest import csv_reader
from ingest.csv_reader import CsvIssue, CsvRejectedError, TableSpec, read_records, read_table
from ingest.input_limits import InputError, validate_equity, validate_portfolio_name
from ingest.manual_prices import ManualPriceCsvError, parse_manual_prices
from ingest.portfolio_csv import PortfolioCsvError, parse_portfolio_csv, parse_portfolio_text

TODAY = date(2026, 11, 23)  # a Monday: the last completed session at its end is itself
HEADER = (
    "Symbol,Quantity,Entry Price Per Share,Entry Date,Investment Class,Investment Subtype,"
    "Underlying Symbol,Strike Price,Expiration Date,Option Type,Exit Date,Exit Price Per Share"
)
EMPTY8 = ",,,,,,,"  # the 8 cells after Entry Date


def _issues(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(PortfolioCsvError) as err:
        parse_portfolio_text(text, today=TODAY)
    return [(i.line, i.column, i.message) for i in err.value.issues]


def _one(symbol: str = "AAPL", quantity: str = "10", price: str = "150.00",
         entry: str = "2024-01-15", rest: str = EMPTY8) -> str:
    return f"{HEADER}\n{symbol},{quantity},{price},{entry},{rest}\n"


def _manual(tmp_path: Path, body: str) -> ManualPriceCsvError:
    path = tmp_path / "p.csv"
    path.write_text("symbol,date,close,adj_close\n" + body, encoding="utf-8")
    with pytest.raises(ManualPriceCsvError) as err:
        parse_manual_prices(path, today=date(2026, 1, 7))
    return err.value


# --- findings of #16 ---------------------------------------------------------------------


def test_entry_dates_from_1990_on() -> None:
    """Found: only the 2000 calendar start was enforced (later, deep in the flow)."""
    (issue,) = _issues(_one(entry="1989-12-29"))
    assert issue[:2] == (2, "Entry Date") and "before 1990-01-02" in issue[2]
    (row,) = parse_portfolio_text(_one(entry="1995-03-01"), today=TODAY)
    assert row.entry_date == date(1995, 3, 1)
    (row,) = parse_portfolio_text(_one(entry="1990-01-02"), today=TODAY)
    assert row.entry_date == date(1990, 1, 2)
    exit_early = _one(entry="1995-03-01", rest=",,,,,,1989-06-01,10")
    assert [i[:2] for i in _issues(exit_early)] == [(2, "Exit Date")]


def test_dates_end_at_the_last_completed_session() -> None:
    # TODAY is a session: an entry on it is allowed; the next day is in the future
    assert parse_portfolio_text(_one(entry="2026-11-23"), today=TODAY)[0].entry_date == TODAY
    (issue,) = _issues(_one(entry="2026-11-24"))
    assert issue[:2] == (2, "Entry Date") and "future" in issue[2]
    # a Sunday after Friday's session is after the last completed session (not future)
    sunday = date(2026, 11, 22)
    with pytest.raises(PortfolioCsvError) as err:
        parse_portfolio_text(_one(entry="2026-11-21"), today=sunday)
    assert "after the last completed NYSE session (2026-11-20)" in err.value.issues[0].message


def test_quantity_beyond_the_schema_is_an_input_error() -> None:
    """Found: 99999999999999999999 passed and failed at insert (NumericValueOutOfRange)."""
    (issue,) = _issues(_one(quantity="99999999999999999999"))
    message = "must be less than 1e12 in absolute value, got '99999999999999999999'"
    assert issue == (2, "Quantity", message)
    (issue,) = _issues(_one(quantity="-1000000000000"))
    assert issue[:2] == (2, "Quantity")
    (row,) = parse_portfolio_text(_one(quantity="-999999999999.999999", price="0.01"),
                                  today=TODAY)
    assert row.quantity == Decimal("-999999999999.999999")


def test_thirty_digit_entry_price_is_an_input_error() -> None:
    """Found: an entry price written as 30 plain digits failed at insert time."""
    (issue,) = _issues(_one(price="1" * 30))
    assert issue == (2, "Entry Price Per Share", f"must be less than 1e9, got '{'1' * 30}'")
    (issue,) = _issues(_one(price="1" * 401))
    assert "(401 characters)" in issue[2] and len(issue[2]) < 200  # still one short line
    (issue,) = _issues(_one(price="1000000000"))
    assert issue[:2] == (2, "Entry Price Per Share")
    assert parse_portfolio_text(_one(quantity="1", price="999999999.99"), today=TODAY)


@pytest.mark.parametrize("price", ["inf", "nan", "1e400", "1e3", "0", "0.00", "-0", "1" * 401,
                                   "１", "+5", ".5", "5.", " "])
def test_prices_must_be_plain_positive_finite_ascii(price: str) -> None:
    issues = _issues(_one(price=price))  # " " is stripped: "required"
    assert [i[:2] for i in issues] == [(2, "Entry Price Per Share")]
    exit_issues = _issues(_one(rest=f",,,,,,2024-02-01,{price}"))
    assert [i[:2] for i in exit_issues] == [(2, "Exit Price Per Share")]


def test_total_entry_value_must_fit_the_equity_limit() -> None:
    rows = "".join(f"S{i},-400000000,999.00,2024-01-15,{EMPTY8}\n" for i in range(3))
    issues = _issues(f"{HEADER}\n{rows}")
    # |q × p| = 3.996e11 each: 2 rows < 1e12 <= 3 rows, so the third row (line 4) crosses it
    assert [(i[0], i[1]) for i in issues] == [(4, "Quantity")]


@pytest.mark.parametrize("value", ["1e30", "1e12", "1000000000000", "inf", "nan", "-5", "0",
                                   "１２３", "1.1234567", "", "abc", "1e400"])
def test_equity_out_of_limits_is_rejected(value: str) -> None:
    """Found: --equity 1e30 passed validation and failed at insert."""
    with pytest.raises(InputError, match="^--equity: "):
        validate_equity(value)


def test_equity_within_limits() -> None:
    assert validate_equity("999999999999.5") == Decimal("999999999999.5")
    assert validate_equity("1e6") == Decimal(1000000)
    assert validate_equity(" 250000.25 ") == Decimal("250000.25")
    assert validate_equity(1.5e6) == Decimal("1500000.0")
    for bad in (float("inf"), float("nan"), 1e30, -1.0, True):
        with pytest.raises(InputError):
            validate_equity(bad)


@pytest.mark.parametrize("symbol", ["ſpy", "ıbm", "ＳＰＹ", "SPY\u200b"])
def test_symbols_are_checked_before_case_folding(symbol: str) -> None:
    """Found: 'ſpy' was folded to SPY and 'ıbm' to IBM."""
    assert symbol.upper().isascii() or symbol.startswith("Ｓ") or "\u200b" in symbol
    (issue,) = _issues(_one(symbol=symbol))
    assert issue[:2] == (2, "Symbol") and "invalid character" in issue[2]


def test_lower_case_ascii_symbols_and_new_characters() -> None:
    rows = parse_portfolio_text(
        f"{HEADER}\nbrk.b,1,1.00,2024-01-15,{EMPTY8}\nes=f,1,1.00,2024-01-15,{EMPTY8}\n",
        today=TODAY)
    assert [r.symbol for r in rows] == ["BRK.B", "ES=F"]


def test_enums_are_not_case_folded_from_unicode() -> None:
    (issue,) = _issues(_one(rest=",ſtock,,,,,,"))
    assert issue[:2] == (2, "Investment Subtype")


@pytest.mark.parametrize(("column", "line"), [
    ("Quantity", _one(quantity="１０")),
    ("Entry Price Per Share", _one(price="１５０.00")),
    ("Entry Date", _one(entry="２０２４-01-15")),
    ("Quantity", _one(quantity="1٠")),  # Arabic-Indic zero
])
def test_full_width_digits_are_not_numbers(column: str, line: str) -> None:
    """Found: full-width digits were read as numbers."""
    (issue,) = _issues(line)
    assert issue[:2] == (2, column)


def test_full_width_digits_in_manual_prices(tmp_path: Path) -> None:
    err = _manual(tmp_path, "GGIPX,2025-01-06,２２.40,\nGGIPX,２０２５-01-07,22.5,\n")
    assert [(i.line, i.column) for i in err.issues] == [(2, "close"), (3, "date")]


def test_quoted_newlines_are_accepted_with_physical_line_numbers() -> None:
    """Found: an RFC 4180 quoted newline was rejected with a confusing second error."""
    text = (
        f"{HEADER}\r\n"                                    # 1
        'AAPL,10,150.00,2024-01-15,PUBLIC,"STOCK\r\n'      # 2  (record spans 2-3)
        '",,,,,,\r\n'                                      # 3
        "# a comment: not data\r\n"                        # 4
        'KO,10,5.00,2024-01-15,"PUBLIC\n'                  # 5  (record spans 5-7)
        '\n'                                               # 6  blank line inside the quotes
        '",BAD,,,,,,\n'                                    # 7  the Subtype cell starts here
        '"MSFT",abc,1.00,2024-01-15,,,,,,,,\n'             # 8
        '"A""B",1,1.00,2024-01-15,,,,,,,,\r'               # 9  CR line end, escaped quote
        '"GO\nOG",1,1.00,2024-01-15,,,,,,,,\n'             # 10-11
    )
    assert [i[:2] for i in _issues(text)] == [
        (7, "Investment Subtype"), (8, "Quantity"), (9, "Symbol"), (10, "Symbol")]
    assert "'A\"B'" in _issues(text)[2][2]
    valid = text.replace(",BAD,", ",STOCK,").replace(",abc,", ",3,").replace(
        '"A""B"', "AB").replace('"GO\nOG"', '"GOOG\n"')
    rows = parse_portfolio_text(valid, today=TODAY)
    assert [(r.line, r.symbol) for r in rows] == [
        (2, "AAPL"), (5, "KO"), (8, "MSFT"), (9, "AB"), (10, "GOOG")]
    assert rows[0].investment_subtype == "STOCK" and rows[1].investment_class == "PUBLIC"


def test_unclosed_quote_is_reported_where_it_opens_and_reading_goes_on() -> None:
    text = f'{HEADER}\n"AAPL,10,1.00,2024-01-15,,,,,,,,\nMSFT,abc,1.00,2024-01-15,{EMPTY8}\n'
    assert [i[:2] for i in _issues(text)] == [(2, "file"), (3, "Quantity")]


def test_401_digit_close_is_rejected(tmp_path: Path) -> None:
    """Found: `prices load` stored a 401-digit close as Infinity."""
    err = _manual(tmp_path, f"GGIPX,2025-01-06,{'9' * 401},\n"
                            "GGIPX,2025-01-07,1000000000,\n"
                            "GGIPX,2025-01-08,22.5,1e400\n"
                            "GGIPX,2025-01-10,inf,\n"
                            "GGIPX,2025-01-13,22.5,999999999.5\n")
    assert [(i.line, i.column) for i in err.issues] == [
        (2, "close"), (3, "close"), (4, "adj_close"), (5, "close")]
    assert "less than 1e9" in err.issues[0].message and "(401 characters)" in err.issues[0].message


def test_manual_symbols_are_checked_before_case_folding(tmp_path: Path) -> None:
    err = _manual(tmp_path, "ſpy,2025-01-06,1,\nıbm,2025-01-06,1,\n")
    assert [(i.line, i.column) for i in err.issues] == [(2, "symbol"), (3, "symbol")]


def test_manual_quoted_newline_keeps_line_numbers(tmp_path: Path) -> None:
    err = _manual(tmp_path, '"GGIPX\n",2025-01-06,1,\nGGIPX,2025-01-07,-1,\n')
    assert [(i.line, i.column) for i in err.issues] == [(4, "close")]


def test_option_expiration_at_most_ten_years_ahead() -> None:
    opt = "OPTIONS,,SPY,450,{exp},CALL,,"
    (row,) = parse_portfolio_text(_one(symbol="", rest=opt.format(exp="2036-11-21")),
                                  today=TODAY)
    assert row.expiration == date(2036, 11, 21)
    (issue,) = _issues(_one(symbol="", rest=opt.format(exp="2036-11-24")))
    assert issue[:2] == (2, "Expiration Date") and "10 years" in issue[2]


# --- portfolio names ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "a[/]b [bold]x", "Ünïcødé Fund", "x" * 100])
def test_valid_portfolio_names_are_returned_unchanged(name: str) -> None:
    assert validate_portfolio_name(name) == name


@pytest.mark.parametrize("name", ["", "x" * 101, "tab\tname", "new\nline", "nul\x00",
                                  " padded", "padded ", "\u2028"])
def test_invalid_portfolio_names(name: str) -> None:
    with pytest.raises(InputError, match="portfolio name"):
        validate_portfolio_name(name)


# --- the reader's own limits -------------------------------------------------------------


def test_report_lists_the_first_50_then_a_count() -> None:
    rows = "".join(f"S{i},abc,1.00,2024-01-15,{EMPTY8}\n" for i in range(120))
    with pytest.raises(PortfolioCsvError) as err:
        parse_portfolio_text(f"{HEADER}\n{rows}", today=TODAY)
    report = err.value.report().splitlines()
    assert len(err.value.issues) == 120 and len(report) == 51
    assert report[0].startswith("line 2, column Quantity") and report[49].startswith("line 51,")
    assert report[50] == "... and 70 more errors"
    assert str(err.value).startswith("<input>: 120 errors; first: line 2")


def test_file_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_reader, "MAX_FILE_BYTES", 100)
    path = tmp_path / "big.csv"
    path.write_text(_one() * 2)  # > 100 bytes
    with pytest.raises(PortfolioCsvError) as err:
        parse_portfolio_csv(path, today=TODAY)
    assert [(i.line, i.column) for i in err.value.issues] == [(0, "file")]
    assert "larger than the limit" in err.value.issues[0].message
    assert csv_reader.MAX_FILE_BYTES == 100 and 10 * 1024 * 1024 > 100


def test_row_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csv_reader, "MAX_RECORDS", 3)
    three = "".join(f"S{i},1,1.00,2024-01-15,{EMPTY8}\n" for i in range(3))
    assert len(parse_portfolio_text(f"{HEADER}\n{three}", today=TODAY)) == 3
    # a fourth row (line 5) is one too many: only that is reported, the rows are not read
    (issue,) = _issues(f"{HEADER}\n{three}X,abc,1.00,2024-01-15,{EMPTY8}\nY,abc\n")
    assert issue == (5, "file", "more than 3 rows; split the file")


def test_required_column_missing_from_the_header_is_a_row_issue() -> None:
    text = "Symbol,Quantity,Entry Price Per Share,Entry Date,Option Type\n,1,1.00,2024-01-15,C\n"
    issues = _issues(text)
    assert ((2, "file", "Underlying Symbol (not in the header): required for an option row")
            in issues)
    assert all(column in ("file", "Option Type") for _, column, _ in issues)


@pytest.mark.parametrize(("data", "line", "fragment"), [
    ("Symbol\n".encode("utf-16"), 1, "UTF-16"),
    (b"a\rb\r\xff\n", 3, "not valid UTF-8"),  # CR-only line ends count as lines
    (b"a\r\nb\r\n\x00", 3, "NUL"),
])
def test_encoding_errors_name_the_line(tmp_path: Path, data: bytes, line: int,
                                       fragment: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    with pytest.raises(PortfolioCsvError) as err:
        parse_portfolio_csv(path, today=TODAY)
    assert [(i.line, i.column) for i in err.value.issues] == [(line, "file")]
    assert fragment in err.value.issues[0].message


def test_records_and_field_lines() -> None:
    records, issues = read_records('a,"b\r\nc",d\r# not a comment in quotes\n"x\n#y"\n\n,,\n')
    assert issues == []
    assert [(r.line, r.fields, r.field_lines) for r in records] == [
        (1, ("a", "b\r\nc", "d"), (1, 1, 2)), (4, ("x\n#y",), (4,))]
    records, issues = read_records('a,"b"c\nok\n')
    assert [r.fields for r in records] == [("ok",)] and [i.line for i in issues] == [1]


def test_header_by_name_reader_for_other_formats() -> None:
    """The helper `snapfolio symbols load` can reuse: optional columns, any order."""
    spec = TableSpec(columns=("symbol", "sector", "industry", "name", "is_etf"),
                     required=("symbol", "sector"), noun="symbols",
                     header_hint="symbol,sector[,industry][,name][,is_etf]")
    table = read_table('Name,SYMBOL,sector\n"Apple, Inc.",AAPL,Tech\n', spec, source="s.csv")
    assert table.header == ("name", "symbol", "sector")
    (record,) = table.records
    assert table.cells(record) == {"name": "Apple, Inc.", "symbol": "AAPL", "sector": "Tech"}
    with pytest.raises(CsvRejectedError) as err:
        read_table("symbol,industry\nA,B\n", spec, source="s.csv")
    assert err.value.issues == [CsvIssue(1, "sector", "missing required column 'sector'")]
    assert isinstance(err.value, InputError)
