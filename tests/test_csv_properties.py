"""Property-based tests (hypothesis) of the one CSV reader and both file formats.

For generated files: random bytes and CSV-like noise never raise anything but the
format's own error type, and every error names a line that exists and a column that is
"file" or appears in the file; valid files written with random quoting, BOMs, line ends,
comments, blank lines, column order and header case round-trip to exactly the generated
rows. Expected line numbers come from the character offsets the writer below records,
counted with a plain loop (not the reader's regex).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.csv_reader import FILE, read_records
from ingest.manual_prices import COLUMNS as PRICE_COLUMNS
from ingest.manual_prices import ManualPriceCsvError, parse_manual_prices
from ingest.portfolio_csv import COLUMNS, PortfolioCsvError, PositionRow, parse_portfolio_csv
from snapfolio.core import calendar

TODAY = date(2026, 11, 23)
PRICE_TODAY = date(2026, 1, 7)
LATEST_EXPIRY = date(2036, 11, 23)
SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SYMBOL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-/^=_"
ENDS = st.sampled_from(["\n", "\r\n", "\r"])
# free text: any character UTF-8 can encode except NUL
FREE_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                    max_size=12)
COMMENT_TEXT = st.text(st.characters(blacklist_categories=("Cs",),
                                     blacklist_characters="\x00\r\n"), max_size=20)


@pytest.fixture(scope="module")
def scratch() -> Path:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d) / "f.csv"


def line_of(text: str, offset: int) -> int:
    """1 + the line breaks (CRLF, CR, LF) before `offset`, counted char by char."""
    n, i = 1, 0
    while i < offset:
        if text[i] == "\r":
            n += 1
            if i + 1 < len(text) and text[i + 1] == "\n":
                i += 1
        elif text[i] == "\n":
            n += 1
        i += 1
    return n


def n_lines(text: str) -> int:
    if not text:
        return 0
    return line_of(text, len(text)) - (1 if text[-1] in "\r\n" else 0)


@dataclass
class Writer:
    """Builds a CSV text and records where each record and field starts."""

    text: str = ""
    records: list[tuple[int, list[int]]] = field(default_factory=list)  # offsets

    def write(self, s: str) -> None:
        self.text += s

    def record(self, draw, fields: list[str], end: str, *, free: bool = False) -> None:
        starts = []
        for i, value in enumerate(fields):
            if i:
                self.write(",")
            starts.append(len(self.text))
            self.write(render(draw, value, first=i == 0, only=len(fields) == 1, free=free))
        self.records.append((starts[0], starts))
        self.write(end)

    def filler(self, draw) -> None:
        """Blank and comment lines (unicode in the comments) between records."""
        for kind in draw(st.lists(st.sampled_from(["blank", "spaces", "comment"]), max_size=2)):
            body = {"blank": "", "spaces": " \t ",
                    "comment": "# " + draw(COMMENT_TEXT)}[kind]
            self.write(body + draw(ENDS))


def render(draw, value: str, *, first: bool, only: bool, free: bool) -> str:
    """Quote when RFC 4180 needs it, or at random; parsed values are stripped, so a quoted
    non-free value may get whitespace padding, newlines included."""
    must = (any(c in value for c in ',"\r\n') or (first and value.lstrip().startswith("#"))
            or (only and not value.strip()))
    if not (must or draw(st.booleans())):
        return value
    if not free:
        pad = st.sampled_from(["", " ", "\t", "\n", "\r\n", " \n "])
        value = draw(pad) + value + draw(pad)
    return '"' + value.replace('"', '""') + '"'


def decimal_text(draw, max_whole: int, places: int, *, signed: bool = False) -> str:
    text = str(draw(st.integers(0, max_whole)))
    if places and draw(st.booleans()):
        digits = draw(st.text("0123456789", min_size=1, max_size=places))
        text += "." + digits
    if Decimal(text) == 0:
        text = "1" + text
    if signed and draw(st.booleans()):
        text = "-" + text
    return text


def random_case(draw, s: str) -> str:
    return "".join(c.lower() if draw(st.booleans()) else c for c in s)


# --- the reader itself --------------------------------------------------------------------


@st.composite
def free_text_files(draw):
    w = Writer(text="\ufeff" if draw(st.booleans()) else "")
    width = draw(st.integers(1, 5))
    expected = []
    for _ in range(draw(st.integers(0, 6))):
        w.filler(draw)
        fields = draw(st.lists(FREE_TEXT, min_size=width, max_size=width))
        if not any(f.strip() for f in fields):
            fields[0] = "x"
        w.record(draw, fields, draw(ENDS), free=True)
        expected.append(tuple(fields))
    if draw(st.booleans()):
        w.text = w.text.rstrip("\r\n")  # no line break after the last record
    return w, expected


@SETTINGS
@given(free_text_files())
def test_reader_round_trips_free_text(case) -> None:
    w, expected = case
    text = w.text.removeprefix("\ufeff")
    records, issues = read_records(text)
    assert issues == []
    assert [r.fields for r in records] == expected
    assert [r.line for r in records] == [line_of(w.text, s) for s, _ in w.records]
    assert [r.field_lines for r in records] == [
        tuple(line_of(w.text, o) for o in starts) for _, starts in w.records]


# --- portfolio files -----------------------------------------------------------------------


@st.composite
def position(draw):
    """(cells by canonical column, the PositionRow expected, the key that must be unique)."""
    entry = draw(st.dates(date(1990, 1, 2), TODAY - timedelta(days=1)))
    q = decimal_text(draw, 10**5, 6, signed=True)  # 8 rows × 1e5 × 1e4 × 100 < 1e12
    p = decimal_text(draw, 10**4, 2)
    cells = dict.fromkeys(COLUMNS, "")
    cells.update({"Quantity": q, "Entry Price Per Share": p, "Entry Date": entry.isoformat()})
    exit_date = exit_price = None
    if draw(st.booleans()):
        exit_date = draw(st.dates(entry + timedelta(days=1), TODAY))
        exit_price = decimal_text(draw, 10**4, 6)
        cells.update({"Exit Date": exit_date.isoformat(), "Exit Price Per Share": exit_price})
    subtype = draw(st.sampled_from([None, "STOCK", "ETF", "MUTUAL_FUND", "CRYPTO"]))
    cells["Investment Subtype"] = random_case(draw, subtype) if subtype else ""
    sym = draw(st.text(SYMBOL_ALPHABET, min_size=1, max_size=8))
    if draw(st.integers(0, 3)) == 0:  # an option
        und = draw(st.text(SYMBOL_ALPHABET, min_size=1, max_size=5))
        strike = decimal_text(draw, 10**4, 3)
        expiry = draw(st.dates(entry, LATEST_EXPIRY))
        kind = draw(st.sampled_from(["CALL", "PUT", "C", "P"]))
        cells.update({"Underlying Symbol": und, "Strike Price": strike,
                      "Expiration Date": expiry.isoformat(), "Option Type": random_case(draw, kind)})
        cells["Investment Class"] = random_case(draw, "OPTIONS") if draw(st.booleans()) else ""
        given_symbol = draw(st.booleans())
        cells["Symbol"] = sym if given_symbol else ""
        symbol = (sym.upper() if given_symbol else
                  f"{und.upper()}{expiry:%y%m%d}{kind[0]}{int(Decimal(strike) * 1000):08d}")
        option = {"underlying_symbol": und.upper(), "strike": Decimal(strike),
                  "expiration": expiry, "option_type": "CALL" if kind[0] == "C" else "PUT",
                  "investment_class": "OPTIONS", "multiplier": 100}
    else:
        cls = draw(st.sampled_from([None, "PUBLIC", "PRIVATE"]))
        cells["Investment Class"] = random_case(draw, cls) if cls else ""
        cells["Symbol"] = sym
        symbol = sym.upper()
        option = {"underlying_symbol": None, "strike": None, "expiration": None,
                  "option_type": None, "investment_class": cls or "PUBLIC", "multiplier": 1}
    row = dict(symbol=symbol, quantity=Decimal(q), entry_price=Decimal(p), entry_date=entry,
               exit_date=exit_date, exit_price=Decimal(exit_price) if exit_price else None,
               investment_subtype=subtype, **option)
    return cells, row, (symbol, entry)


@st.composite
def portfolio_files(draw):
    order = draw(st.permutations(COLUMNS))
    positions = draw(st.lists(position(), min_size=1, max_size=8, unique_by=lambda p: p[2]))
    w = Writer(text="\ufeff" if draw(st.booleans()) else "")
    w.filler(draw)
    w.record(draw, [random_case(draw, c) for c in order], draw(ENDS))
    for cells, _, _ in positions:
        w.filler(draw)
        w.record(draw, [cells[c] for c in order], draw(ENDS))
    if draw(st.booleans()):
        w.text = w.text.rstrip("\r\n")  # no line break after the last record
    rows = [PositionRow(line=line_of(w.text, start), **row)
            for (start, _), (_, row, _) in zip(w.records[1:], positions, strict=True)]
    return w.text, rows


@SETTINGS
@given(portfolio_files())
def test_valid_portfolio_files_round_trip(scratch: Path, case) -> None:
    text, rows = case
    scratch.write_bytes(text.encode("utf-8"))
    assert parse_portfolio_csv(scratch, today=TODAY) == rows


# --- manual price files ----------------------------------------------------------------------

SESSIONS = calendar.sessions_between(date(2000, 1, 3), date(2025, 12, 31))


@st.composite
def price_files(draw):
    with_adj = draw(st.booleans())
    columns = list(PRICE_COLUMNS if with_adj else PRICE_COLUMNS[:3])
    order = draw(st.permutations(columns))
    keys = draw(st.lists(st.tuples(st.text(SYMBOL_ALPHABET, min_size=1, max_size=8),
                                   st.integers(0, len(SESSIONS) - 1)),
                         min_size=1, max_size=8, unique_by=lambda k: (k[0].upper(), k[1])))
    w = Writer(text="\ufeff" if draw(st.booleans()) else "")
    w.filler(draw)
    w.record(draw, [random_case(draw, c) for c in order], draw(ENDS))
    expected = []
    for sym, i in keys:
        close = decimal_text(draw, 10**8, 6)
        adj = decimal_text(draw, 10**8, 6) if with_adj and draw(st.booleans()) else ""
        cells = {"symbol": sym, "date": SESSIONS[i].isoformat(), "close": close,
                 "adj_close": adj}
        fields = [cells[c] for c in order]
        while len(fields) > 1 and fields[-1] == "" and draw(st.booleans()):
            fields.pop()  # trailing empty cells may be left out
        w.filler(draw)
        w.record(draw, fields, draw(ENDS))
        expected.append((sym.upper(), SESSIONS[i], float(close), float(adj) if adj else None))
    return w.text, expected


@SETTINGS
@given(price_files())
def test_valid_price_files_round_trip(scratch: Path, case) -> None:
    text, expected = case
    scratch.write_bytes(text.encode("utf-8"))
    frame = parse_manual_prices(scratch, today=PRICE_TODAY)
    got = [(s, d, c, None if math.isnan(a) else a) for s, d, c, a in zip(
        frame["symbol"], frame["price_date"], frame["close"], frame["adj_close"], strict=True)]
    assert got == expected
    assert set(frame["source"]) == {"manual"}


# --- anything at all -----------------------------------------------------------------------

TOKENS = [",", '"', '""', "\r", "\n", "\r\n", " ", "#", "\t", ";", "x", "ſ", "１", "1", "-1",
          "0", "1.5", "1e400", "9" * 30, "2024-01-15", "1989-12-29", "2099-01-02",
          "2025-01-06", "AAPL", "aapl", "OPTIONS", "C", "PUT", "STOCK", "\ufeff", "\u2028"]


@st.composite
def noise(draw):
    """Random bytes, or CSV-like text below a real header (so row checks are reached)."""
    if draw(st.integers(0, 2)) == 0:
        return draw(st.binary(max_size=600))
    header = draw(st.sampled_from([
        ",".join(COLUMNS), "Symbol,Quantity,Entry Price Per Share,Entry Date",
        ",".join(PRICE_COLUMNS), "symbol,date,close", "", "Symbol,Option Type,Quantity"]))
    body = "".join(draw(st.lists(st.sampled_from(TOKENS), max_size=120)))
    return (header + draw(ENDS) + body).encode("utf-8")


def check_issues(data: bytes, issues) -> None:
    """Every issue names a line that exists and a column that is 'file' or in the file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # one char per byte: the same line breaks
    assert issues
    for issue in issues:
        assert issue.line >= 0 and (issue.line > 0 or issue.column == FILE), issue
        assert issue.line <= max(1, n_lines(text)), (issue, n_lines(text))
        if issue.column != FILE and not issue.message.startswith("missing required column"):
            assert issue.column.lower() in text.lower(), issue
        assert "\n" not in str(issue) and "\r" not in str(issue)


@SETTINGS
@given(noise())
def test_portfolio_reader_only_raises_its_own_error(scratch: Path, data: bytes) -> None:
    scratch.write_bytes(data)
    try:
        parse_portfolio_csv(scratch, today=TODAY)
    except PortfolioCsvError as err:
        check_issues(data, err.issues)


@SETTINGS
@given(noise())
def test_price_reader_only_raises_its_own_error(scratch: Path, data: bytes) -> None:
    scratch.write_bytes(data)
    try:
        parse_manual_prices(scratch, today=PRICE_TODAY)
    except ManualPriceCsvError as err:
        check_issues(data, err.issues)
