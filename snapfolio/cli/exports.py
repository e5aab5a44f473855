"""CSV exports of the marts with the contract columns (README "Using it").

Dates YYYY-MM-DD, floats with full round-trip precision (repr), booleans true/false,
rows sorted by date.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import date
from typing import TextIO

import sqlalchemy as sa

EXPORTS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "snapshots": (
        "marts.fct_portfolio_snapshots",
        ("portfolio_id", "snapshot_date", "equity", "long_value", "short_value", "gross_exposure",
         "net_exposure", "cash", "daily_pnl", "daily_return", "cumulative_pnl", "position_count",
         "is_complete"),
        "snapshot_date",
    ),
    "positions": (
        "marts.fct_position_values",
        ("portfolio_id", "position_id", "snapshot_date", "symbol", "quantity", "price",
         "price_source", "market_value", "daily_pnl", "cumulative_pnl"),
        "snapshot_date, position_id",
    ),
    "exposures": (
        "marts.fct_position_factor_exposures",
        ("portfolio_id", "position_id", "snapshot_date", "symbol", "factor", "beta",
         "exposure_status"),
        "snapshot_date, position_id, factor",
    ),
}


class ExportError(ValueError):
    """Nothing to export (unknown kind, or the mart does not exist yet)."""


def format_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def export_csv(conn: sa.Connection, kind: str, portfolio_id: int, out: TextIO) -> int:
    """Write one portfolio's rows of `kind` to `out`; returns the row count."""
    if kind not in EXPORTS:
        raise ExportError(f"unknown export {kind!r} (choose from {', '.join(EXPORTS)})")
    table, columns, order = EXPORTS[kind]
    if conn.execute(sa.text("select to_regclass(:t)"), {"t": table}).scalar() is None:
        raise ExportError(f"{table} does not exist yet: run `snapfolio run` first")
    rows = conn.execute(
        sa.text(f"select {', '.join(columns)} from {table} where portfolio_id = :p order by {order}"),
        {"p": portfolio_id},
    )
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    n = 0
    for row in rows:
        writer.writerow([format_value(v) for v in row])
        n += 1
    return n


def export_text(conn: sa.Connection, kind: str, portfolio_id: int) -> str:
    buf = io.StringIO()
    export_csv(conn, kind, portfolio_id, buf)
    return buf.getvalue()
