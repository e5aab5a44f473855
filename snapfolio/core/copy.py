"""Bulk writes through PostgreSQL's binary COPY: the one way snapfolio streams rows in.

Two input shapes, one helper: Python row tuples encoded by psycopg's C encoder
(`rows` + `types`), or records already laid out in COPY's binary format by numpy
(`records`, fixed-width, no per-row Python at all). Either way no per-row SQL is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
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
