"""The one reader of snapfolio's CSV inputs: portfolio files, manual prices, symbol profiles.

Why one: every format promises the same thing — a file is read whole, every problem is
reported by physical line and column, and nothing is written — and the RFC 4180 details
(quoted fields with embedded newlines, doubled quotes, a BOM, CRLF/LF/CR line ends) are
easy to get subtly wrong twice. Formats differ only in their columns and value rules.

Reading: bytes are UTF-8 (with or without BOM; anything else is a clear error), at most
`MAX_FILE_BYTES`. Records come from the csv module in strict mode, fed one physical
line at a time, so each record and each field knows the physical line it starts on. Blank
lines and lines starting with ``#`` between records are skipped (inside a quoted field
they are data). A malformed record is reported and reading resumes after it — or, for a
quote that is never closed, on the line after the one that opened it.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.input_limits import InputError, shown

__all__ = [
    "FILE",
    "MAX_FILE_BYTES",
    "MAX_RECORDS",
    "MAX_REPORTED_ISSUES",
    "CsvIssue",
    "CsvRecord",
    "CsvRejectedError",
    "CsvTable",
    "TableSpec",
    "count_lines",
    "decode_csv_bytes",
    "read_csv_file",
    "read_csv_text",
    "read_records",
    "read_table",
]

MAX_FILE_BYTES = 10 * 1024 * 1024  # 10 MiB: ~100,000 positions, far above any real book
MAX_RECORDS = 200_000  # data rows; bounds time and memory (a 10 MB file of "x" lines is 5M)
MAX_REPORTED_ISSUES = 50  # report() lists this many, then "... and N more"
FILE = "file"  # the column of an issue about the file or a whole row

_BREAK = re.compile(r"\r\n|\r|\n")
_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")
_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
         (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))
_OTHER_DELIMITERS = ((";", "';'"), ("\t", "tab"), ("|", "'|'"))
_UNCLOSED = "unexpected end of data"  # csv's strict-mode message for an open quote at EOF


@dataclass(frozen=True)
class CsvIssue:
    """One problem: physical line (0 = whole file), column header name (or "file"), message."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = [f"line {self.line}"] if self.line > 0 else []
        if self.column != FILE:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class CsvRejectedError(InputError):
    """A CSV rejected whole; ``issues`` lists every problem found (line and column)."""

    def __init__(self, source: str, issues: list[CsvIssue]) -> None:
        self.source = source
        self.issues = sorted(issues, key=lambda i: i.line)
        n = len(self.issues)
        first = str(self.issues[0]) if self.issues else "unknown problem"
        super().__init__(f"{source}: {n} error{'s' if n != 1 else ''}; first: {first}")

    def report(self, limit: int = MAX_REPORTED_ISSUES) -> str:
        """The issues, one per line: the first `limit`, then how many more there are."""
        lines = [str(i) for i in self.issues[:limit]]
        if len(self.issues) > limit:
            lines.append(f"... and {len(self.issues) - limit} more errors")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class CsvRecord:
    """One CSV record: raw field values (quotes removed, blanks kept) and where they start."""

    line: int  # physical line of the record's first character
    fields: tuple[str, ...]
    field_lines: tuple[int, ...]  # physical line on which each field starts


@dataclass(frozen=True)
class TableSpec:
    """A format read by header name: canonical column names, matched case-insensitively."""

    columns: tuple[str, ...]
    required: tuple[str, ...]
    noun: str  # what a data row is ("positions"), for "no positions after the header row"
    header_hint: str  # what the header should look like, for "no header row" / "empty file"


@dataclass(frozen=True)
class CsvTable:
    """The header (canonical names, file order) and the data records below it."""

    header: tuple[str, ...]
    header_line: int
    records: list[CsvRecord]
    issues: list[CsvIssue]  # malformed records met while reading (not in `records`)

    def cells(self, record: CsvRecord) -> dict[str, str]:
        """Stripped values by column; a short record lacks its last columns."""
        return {c: v.strip() for c, v in zip(self.header, record.fields, strict=False)}

    def cell_lines(self, record: CsvRecord) -> dict[str, int]:
        return dict(zip(self.header, record.field_lines, strict=False))

    def width_issue(self, record: CsvRecord) -> CsvIssue:
        return CsvIssue(record.line, FILE, f"expected {len(self.header)} fields like the header "
                                           f"(line {self.header_line}), found {len(record.fields)}")


def count_lines(text: str) -> int:
    """Physical lines of `text` (a final line break ends the last line, it opens none)."""
    return len(_PHYSICAL_LINE.findall(text))


def decode_csv_bytes(data: bytes, source: str,
                     error_type: type[CsvRejectedError] = CsvRejectedError) -> str:
    """UTF-8 text without its BOM, or `error_type` naming the line of the first bad byte."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise error_type(source, [CsvIssue(1, FILE, f"{name} text (byte-order mark); "
                                                        "save the file as UTF-8")])
    if b"\x00" in data:
        line = _line_at(data, data.index(b"\x00"))
        raise error_type(source, [CsvIssue(
            line, FILE, "binary data (NUL byte); expected a UTF-8 text CSV")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        msg = f"not valid UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        raise error_type(source, [CsvIssue(_line_at(data, exc.start), FILE, msg)]) from None


def read_csv_text(path: str | Path,
                  error_type: type[CsvRejectedError] = CsvRejectedError) -> str:
    """Read and decode a CSV file of at most `MAX_FILE_BYTES`; errors as `error_type`."""
    source = str(path)
    try:
        with Path(path).open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise error_type(
            source, [CsvIssue(0, FILE, f"cannot read file: {exc.strerror or exc}")]) from None
    if len(data) > MAX_FILE_BYTES:
        raise error_type(source, [CsvIssue(0, FILE, f"file larger than the limit of "
                                                    f"{MAX_FILE_BYTES // (1024 * 1024)} MB")])
    return decode_csv_bytes(data, source, error_type)


class _Feed:
    """Physical lines for csv.reader; skips blank and comment lines between records."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.pos = 0  # index of the next line to hand out
        self.start = 0  # index of the current record's first line
        self.at_boundary = True

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.at_boundary:
            while self.pos < len(self.lines) and _skippable(self.lines[self.pos]):
                self.pos += 1
            self.start = self.pos
            self.at_boundary = False
        if self.pos >= len(self.lines):
            raise StopIteration
        self.pos += 1
        return self.lines[self.pos - 1]


def _skippable(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def read_records(text: str, max_records: int | None = None
                 ) -> tuple[list[CsvRecord], list[CsvIssue]]:
    """Every record of `text` with physical line numbers, and the malformed ones as issues.

    Records whose fields are all blank (``,,,``) are dropped like blank lines. Reading
    stops after `max_records` records.
    """
    feed = _Feed(_PHYSICAL_LINE.findall(text))
    reader = csv.reader(feed, strict=True)
    records: list[CsvRecord] = []
    issues: list[CsvIssue] = []
    while True:
        feed.at_boundary = True
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if _UNCLOSED in str(exc):
                issues.append(CsvIssue(feed.start + 1, FILE, "malformed CSV: a quoted field "
                                                             "opened on this line is never closed"))
                feed.pos = feed.start + 1  # read on from the next line, not from the end
            else:
                issues.append(CsvIssue(feed.pos, FILE, f"malformed CSV line: {exc}"))
            reader = csv.reader(feed, strict=True)
            continue
        if not any(f.strip() for f in fields):
            continue
        first = feed.start + 1
        if feed.pos == first:  # one physical line: every field starts on it
            starts = (first,) * len(fields)
        else:  # breaks only occur inside quoted fields, kept verbatim: count them
            starts, line = [], first
            for value in fields:
                starts.append(line)
                line += len(_BREAK.findall(value))
        records.append(CsvRecord(first, tuple(fields), tuple(starts)))
        if max_records is not None and len(records) >= max_records:
            break
    return records, issues


def read_table(text: str, spec: TableSpec, *, source: str,
               error_type: type[CsvRejectedError] = CsvRejectedError) -> CsvTable:
    """Header by name, then the data records; raise `error_type` when no table is there.

    Raised: an empty file, more than `MAX_RECORDS` data rows, an unreadable header (wrong
    delimiter, unknown, duplicate or missing required columns), or no data rows.
    """
    records, issues = read_records(text, max_records=MAX_RECORDS + 2)  # header + 1 too many
    if len(records) > MAX_RECORDS + 1:
        raise error_type(source, [CsvIssue(records[-1].line, FILE, (
            f"more than {MAX_RECORDS:,} rows; split the file"))])
    if not records or (issues and issues[0].line < records[0].line):
        early = [i for i in issues if not records or i.line < records[0].line]
        raise error_type(source, early or [CsvIssue(
            0, FILE, f"empty file: no header row and no {spec.noun} (expected {spec.header_hint})")])
    head, data = records[0], records[1:]
    header = _header(head, spec, issues)
    if header is None:
        raise error_type(source, [i for i in issues if i.line <= head.line])
    if not data and not issues:
        issues.append(CsvIssue(head.line, FILE, f"no {spec.noun} after the header row"))
    if not data:
        raise error_type(source, issues)
    return CsvTable(header=header, header_line=head.line, records=data, issues=issues)


def read_csv_file(path: str | Path, spec: TableSpec,
                  error_type: type[CsvRejectedError] = CsvRejectedError) -> CsvTable:
    """`read_csv_text` then `read_table`: the whole reading step of a CSV format."""
    return read_table(read_csv_text(path, error_type), spec, source=str(path),
                      error_type=error_type)


def _header(head: CsvRecord, spec: TableSpec, issues: list[CsvIssue]) -> tuple[str, ...] | None:
    """Canonical names of the header cells, or None (issues added) when unusable."""
    line = head.line
    if len(head.fields) == 1:
        for delim, name in _OTHER_DELIMITERS:
            if delim in head.fields[0]:
                issues.append(CsvIssue(line, FILE, f"expected comma-separated columns, "
                                                   f"found {name}"))
                return None
    canonical = {c.lower(): c for c in spec.columns}
    names = [f.strip() for f in head.fields]
    if not any(n.lower() in canonical for n in names):
        got = ",".join(head.fields).strip()[:60]
        issues.append(CsvIssue(line, FILE, "no header row: the first non-comment line must name "
                                           f"the columns ({spec.header_hint}), got {got!r}"))
        return None
    header: list[str] = []
    ok = True
    for name in names:
        canon = canonical.get(name.lower())
        if canon is None:
            column = name if name and len(name) <= 40 else FILE
            issues.append(CsvIssue(line, column, f"unknown column {shown(name)}"))
            ok = False
        elif canon in header:
            issues.append(CsvIssue(line, canon, f"duplicate column {shown(name)}"))
            ok = False
        header.append(canon or name)
    for req in spec.required:
        if req not in header:
            issues.append(CsvIssue(line, req, f"missing required column {req!r}"))
            ok = False
    return tuple(header) if ok else None


def _line_at(data: bytes, offset: int) -> int:
    return len(_BREAK_BYTES.findall(data, 0, offset)) + 1
