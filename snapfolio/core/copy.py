"""Bulk writes through PostgreSQL's binary COPY: the one way snapfolio streams rows in.

Two input shapes, one helper: Python row tuples encoded by psycopg's C encoder
(`rows` + `types`), or records already laid out in COPY's binary format by numpy
(`records`, fixed-width, no per-row Python at all). Either way no per-row SQL is sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa

PG_EPOCH_DAYS = 10_957  # 2000-01-01 - 1970-01-01: PostgreSQL binary dates count from 2000
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)


def pg_days(days: np.ndarray) -> np.ndarray:
    """datetime64[D] -> int32 days since 2000-01-01 (COPY's binary date)."""
    return (days.astype("datetime64[D]").astype(np.int64) - PG_EPOCH_DAYS).astype(np.int32)


def copy_in(
    conn: sa.Connection,
    statement: str,
    *,
    rows: Iterable[Sequence[object]] | None = None,
    types: Sequence[str] | None = None,
    records: Iterable[np.ndarray] | None = None,
) -> None:
    """Run `statement` (a `copy ... from stdin (format binary)`) in the caller's transaction.

    `rows` with `types` (PostgreSQL type names) streams tuples; `records` streams numpy
    structured arrays whose dtype is exactly COPY's binary tuple layout.
    """
    if (rows is None) == (records is None):
        raise ValueError("copy_in takes either rows (with types) or records")
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(statement) as copy:
        if rows is not None:
            if types is None:
                raise ValueError("copy_in: rows need their PostgreSQL types")
            copy.set_types(list(types))
            for row in rows:
                copy.write_row(row)
        else:
            copy.write(COPY_HEADER)
            for rec in records or ():
                copy.write(rec.tobytes())
            copy.write(COPY_TRAILER)


_BINARY_FIELDS = {"int4": (">i4", 4), "int8": (">i8", 8), "float8": (">f8", 8),
                  "date": (">i4", 4), "int2": (">i2", 2)}


def binary_records(columns: Sequence[tuple[str, np.ndarray]]) -> np.ndarray:
    """Numpy columns -> one structured array in COPY's binary tuple layout.

    Kinds: int2, int4, int8, float8 (NaN stays NaN: the INSERT from the temp table turns
    it into NULL with `nullif(x, 'NaN')`), date (datetime64[D] or day numbers since
    1970). Fixed width only, so a million rows cost a few numpy assignments.
    """
    fields: list[tuple[str, str]] = [("nfields", ">i2")]
    for i, (kind, _) in enumerate(columns):
        fields += [(f"l{i}", ">i4"), (f"v{i}", _BINARY_FIELDS[kind][0])]
    n = len(columns[0][1]) if columns else 0
    rec = np.empty(n, dtype=np.dtype(fields))
    rec["nfields"] = len(columns)
    for i, (kind, values) in enumerate(columns):
        rec[f"l{i}"] = _BINARY_FIELDS[kind][1]
        if kind == "date":
            values = np.asarray(values)
            days = values.astype("datetime64[D]").astype(np.int64) \
                if values.dtype.kind == "M" else values.astype(np.int64)
            rec[f"v{i}"] = days - PG_EPOCH_DAYS
        else:
            rec[f"v{i}"] = values
    return rec


def copy_out_frame(conn: sa.Connection, select_sql: str, params: dict | None = None
                   ) -> pd.DataFrame:
    """`copy (select ...) to stdout` as CSV into pandas: millions of rows in seconds,
    where fetching Python row objects would take minutes. `:name` parameters are bound
    client-side by psycopg; dates should be selected as day numbers (integers)."""
    import io

    statement = re.sub(r"(?<![:\w]):([a-z_][a-z0-9_]*)", r"%(\1)s", select_sql.strip().rstrip(";"))
    buf = io.BytesIO()
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy(
        f"copy ({statement}) to stdout (format csv, header true)", params or {}
    ) as copy:
        for data in copy:
            buf.write(data)
    buf.seek(0)
    return pd.read_csv(buf, keep_default_na=True)
