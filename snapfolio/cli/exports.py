"""CSV exports of the marts with the contract columns (README "Using it", DESIGN
"Exports").

Dates YYYY-MM-DD, floats with full round-trip precision (repr), booleans true/false,
NULL an empty field, rows sorted by date then key (text keys in byte order). Each
kind's query is `sql/export_<kind>.sql`; the header is its select list.

`correlations` writes the stored matrix of the portfolio's latest session; with an
as-of date it computes the matrix of the last stored session on or before it with the
risk phase's own code (``risk.on_demand``).

Safety (issue #16): the kind, the as-of use and the portfolio are checked before any
output is opened; a file is written to a temporary file in its target directory and
renamed onto the target only when complete, so an existing file is never truncated
or half-written; an unwritable target is an `ExportError` naming the path (exit 2).
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import TextIO

import sqlalchemy as sa

from snapfolio.core.sql import sql_text

# kind -> (the mart it reads, its contract columns = the CSV's header, in order; the
# query of sql/export_<kind>.sql selects exactly these)
EXPORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "snapshots": ("marts.fct_portfolio_snapshots", (
        "portfolio_id", "snapshot_date", "equity", "long_value", "short_value",
        "gross_exposure", "net_exposure", "cash", "daily_pnl", "daily_return", "cumulative_pnl",
        "position_count", "is_complete")),
    "positions": ("marts.fct_position_values", (
        "portfolio_id", "position_id", "snapshot_date", "symbol", "quantity", "price",
        "price_source", "market_value", "daily_pnl", "cumulative_pnl")),
    "exposures": ("marts.fct_position_factor_exposures", (
        "portfolio_id", "position_id", "snapshot_date", "symbol", "factor", "beta",
        "exposure_status")),
    "risk": ("marts.fct_portfolio_risk", (
        "portfolio_id", "snapshot_date", "realized_vol_21d", "realized_vol_63d", "har_vol_1d",
        "har_vol_21d", "holdings_vol_63d", "var_95_1d", "cvar_95_1d", "drawdown",
        "max_drawdown", "hhi", "effective_num_positions", "top_3_weight", "top_10_weight",
        "avg_pairwise_correlation", "correlation_effective_positions", "worst_stress_scenario",
        "worst_stress_pnl")),
    "position-risk": ("marts.fct_position_risk", (
        "portfolio_id", "position_id", "snapshot_date", "symbol", "realized_vol_63d",
        "risk_contribution")),
    "sectors": ("marts.fct_portfolio_sector_exposures", (
        "portfolio_id", "snapshot_date", "sector", "long_value", "short_value",
        "gross_exposure", "net_exposure", "gross_weight", "net_weight")),
    "stress": ("marts.fct_portfolio_stress_results", (
        "portfolio_id", "snapshot_date", "scenario_id", "direct_pnl", "correlated_pnl",
        "direct_return", "correlated_return")),
    "correlations": ("marts.fct_position_correlations", (
        "as_of_date", "symbol_a", "symbol_b", "correlation", "n_obs")),
}
AS_OF_KINDS = ("correlations",)


class ExportError(ValueError):
    """Bad export request or target: unknown kind, --as-of where it does not apply, no
    session to export, a mart that does not exist yet, an unwritable output path."""


def format_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(float(value))
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def check_request(kind: str, as_of: date | str | None = None) -> None:
    """The checks that need no database: a known kind, --as-of only where it applies."""
    if kind not in EXPORTS:
        raise ExportError(f"unknown export {kind!r} (choose from {', '.join(EXPORTS)})")
    if as_of is not None and kind not in AS_OF_KINDS:
        raise ExportError(f"--as-of applies only to `export {' | '.join(AS_OF_KINDS)}`, "
                          f"not to {kind!r}")


def _require(conn: sa.Connection, table: str) -> None:
    if conn.execute(sa.text("select to_regclass(:t)"), {"t": table}).scalar() is None:
        raise ExportError(f"{table} does not exist yet: run `snapfolio run` first")


def export_rows(conn: sa.Connection, kind: str, portfolio_id: int, as_of: date | None = None,
                portfolio_name: str | None = None) -> tuple[list[str], Iterable[Sequence]]:
    """(header, rows) of one portfolio's export; raises ExportError before any output."""
    check_request(kind, as_of)
    if kind == "correlations" and as_of is not None:
        return _correlations_as_of(conn, portfolio_id, as_of, portfolio_name)
    _require(conn, EXPORTS[kind][0])
    result = conn.execute(sql_text(__file__, f"export_{kind.replace('-', '_')}"),
                          {"portfolio_id": portfolio_id})
    header = list(result.keys())
    if tuple(header) != EXPORTS[kind][1]:  # the SQL file and the contract must agree
        raise RuntimeError(f"export {kind}: query columns {header} are not the contract")
    return header, result


def _correlations_as_of(conn: sa.Connection, portfolio_id: int, as_of: date,
                        portfolio_name: str | None) -> tuple[list[str], Iterable[Sequence]]:
    from risk.on_demand import MATRIX_COLUMNS, correlation_matrix, stored_session

    _require(conn, "marts.fct_portfolio_risk")
    _require(conn, "marts.fct_position_values")
    session = stored_session(conn, portfolio_id, as_of)
    if session is None:
        who = repr(portfolio_name) if portfolio_name is not None else f"id {portfolio_id}"
        raise ExportError(f"portfolio {who} has no stored session on or before {as_of}")
    pairs = correlation_matrix(conn, portfolio_id, session)
    columns = [pairs[c].tolist() for c in MATRIX_COLUMNS]  # Python scalars, not numpy
    return list(MATRIX_COLUMNS), list(zip(*columns, strict=True))


def write_csv(header: Sequence[str], rows: Iterable[Sequence], out: TextIO) -> int:
    """Header and rows as CSV; returns the row count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    n = 0
    for row in rows:
        writer.writerow([format_value(v) for v in row])
        n += 1
    return n


def export_csv(conn: sa.Connection, kind: str, portfolio_id: int, out: TextIO,
               as_of: date | None = None, portfolio_name: str | None = None) -> int:
    """Write one portfolio's rows of `kind` to `out`; returns the row count."""
    header, rows = export_rows(conn, kind, portfolio_id, as_of, portfolio_name)
    return write_csv(header, rows, out)


def export_text(conn: sa.Connection, kind: str, portfolio_id: int,
                as_of: date | None = None) -> str:
    buf = io.StringIO()
    export_csv(conn, kind, portfolio_id, buf, as_of)
    return buf.getvalue()


def _shown(path: os.PathLike | str) -> str:
    """A path as it can be printed on one line (repr when it holds control characters)."""
    text = os.fspath(path)
    return text if text.isprintable() else repr(text)


def _unwritable(path: Path, exc: OSError) -> ExportError:
    parent = path.parent
    if isinstance(exc, FileNotFoundError) and not parent.exists():
        why = f"directory {_shown(parent)} does not exist"
    elif isinstance(exc, (FileNotFoundError, NotADirectoryError)) and not parent.is_dir():
        why = f"{_shown(parent)} is not a directory"
    elif isinstance(exc, PermissionError):
        why = "permission denied"
    else:
        why = exc.strerror or type(exc).__name__
    return ExportError(f"cannot write --out {_shown(path)}: {why}")


def _target(out: Path) -> Path:
    """The file to replace: a symlink's target (the link stays), checked to be a file."""
    target = Path(os.path.realpath(out))
    if target.is_dir():
        raise ExportError(f"cannot write --out {_shown(out)}: it is a directory")
    if target.exists() and not os.access(target, os.W_OK):
        raise ExportError(f"cannot write --out {_shown(out)}: permission denied")
    return target


def _new_file_mode(target: Path) -> int:
    """The existing file's permissions, else those a plain open() would give."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def export_file(conn: sa.Connection, kind: str, portfolio_id: int, out: Path,
                as_of: date | None = None, portfolio_name: str | None = None) -> int:
    """Write one portfolio's export to `out` atomically; returns the row count.

    Every request check runs (and the query is answered) before the output is opened;
    the CSV goes to a temporary file beside the target, flushed to disk, then renamed
    onto it. On any error the temporary file is removed and `out` is untouched."""
    header, rows = export_rows(conn, kind, portfolio_id, as_of, portfolio_name)
    target = _target(out)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                        suffix=".tmp")
    except OSError as exc:
        raise _unwritable(out, exc) from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            n = write_csv(header, rows, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _new_file_mode(target))
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise _unwritable(out, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return n
