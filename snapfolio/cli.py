"""The `snapfolio` command line (typer + rich).

Exit codes (DESIGN.md): 0 completed (warnings printed), 1 failed, 2 bad usage or input.
Errors are one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="snapfolio: per-portfolio daily history, kept current.")
prices_app = typer.Typer(help="Manual price loads.", no_args_is_help=True)
app.add_typer(prices_app, name="prices")
console = Console(width=None if sys.stdout.isatty() else 140)
err_console = Console(stderr=True)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CliError(f"{option}: expected a date YYYY-MM-DD, got {value!r}", EXIT_BAD_INPUT) from None


def _parse_equity(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        equity = Decimal(value)
    except InvalidOperation:
        raise CliError(f"--equity: expected a positive number, got {value!r}", EXIT_BAD_INPUT) from None
    if not equity.is_finite() or equity <= 0:
        raise CliError(f"--equity: expected a positive number, got {value!r}", EXIT_BAD_INPUT)
    return equity


def _context():
    from snapfolio.database import get_engine, resolve_url
    from snapfolio.settings import load_settings

    settings = load_settings()
    url = resolve_url(settings)
    return settings, url, get_engine(settings)


def _print_summary(summary, as_json: bool) -> None:
    from snapfolio.reporting import snapshot_summary_rows

    if as_json:
        payload = asdict(summary)
        payload["as_of"] = summary.as_of.isoformat()
        print(json.dumps(payload, default=str, indent=2))
        return
    for warning in summary.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}")
    _, _, engine = _context()
    table = Table(title=f"Portfolios as of {summary.as_of}")
    for col in ("portfolio", "sessions", "last complete", "missing", "equity", "cum. P&L", "daily P&L"):
        table.add_column(col, justify="left" if col == "portfolio" else "right")
    for row in snapshot_summary_rows(engine, list(summary.portfolios.values())):
        table.add_row(
            row["name"], str(row["sessions"]), str(row["last_complete_date"] or "-"),
            str(row["missing_sessions"]),
            f"{row['equity']:,.2f}" if row["equity"] is not None else "-",
            f"{row['cumulative_pnl']:,.2f}" if row["cumulative_pnl"] is not None else "-",
            f"{row['daily_pnl']:,.2f}" if row["daily_pnl"] is not None else "-",
        )
    console.print(table)
    timings = ", ".join(f"{k} {v:.2f}s" for k, v in summary.timings.items())
    console.print(f"[bold]{summary.status}[/] · {timings}")


def _run(as_of: date | None, names: list[str] | None, retry_unavailable: bool, as_json: bool):
    from snapfolio.pipeline import run_batch

    settings, url, engine = _context()
    with console.status("running batch: prices, dbt build…", spinner="dots") if not as_json else _null():
        summary = run_batch(engine, settings, url, as_of=as_of, portfolio_names=names,
                            retry_unavailable=retry_unavailable)
    _print_summary(summary, as_json)
    return summary


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@app.command()
def onboard(
    file: Annotated[Path, typer.Argument(help="Portfolio CSV (12-column broker format).")],
    name: Annotated[str, typer.Option("--name", help="Portfolio name (unique).")],
    equity: Annotated[str | None, typer.Option("--equity", help="Initial equity; default Σ|q × entry × multiplier|.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Last session to fill (YYYY-MM-DD).")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Re-onboard an existing name.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
) -> None:
    """Import a portfolio CSV, then bring that portfolio current."""
    from snapfolio.pipeline import onboard_file

    as_of_date = _parse_date(as_of, "--as-of")
    equity_value = _parse_equity(equity)
    _, _, engine = _context()
    onboarded = onboard_file(engine, file, name, equity=equity_value, replace=replace)
    if not as_json:
        verb = "replaced" if onboarded.replaced else "onboarded"
        console.print(f"{verb} [bold]{name}[/]: {onboarded.positions} positions, "
                      f"initial equity {onboarded.initial_equity:,.2f} ({onboarded.equity_source})")
    _run(as_of_date, [name], False, as_json)


@app.command()
def run(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Last session to fill (default: last completed NYSE session).")] = None,
    portfolio: Annotated[list[str] | None, typer.Option("--portfolio", help="Limit to these portfolios (repeatable).")] = None,
    retry_unavailable: Annotated[bool, typer.Option("--retry-unavailable", help="Ask providers again for symbols marked unavailable.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
) -> None:
    """Fill every portfolio's missing sessions up to as_of: prices, then dbt build."""
    _run(_parse_date(as_of, "--as-of"), portfolio or None, retry_unavailable, as_json)


@app.command()
def export(
    kind: Annotated[str, typer.Argument(help="snapshots | positions | exposures")],
    portfolio: Annotated[str, typer.Option("--portfolio", help="Portfolio name.")],
    out: Annotated[Path | None, typer.Option("--out", help="Output file (default: stdout).")] = None,
) -> None:
    """Export one portfolio's rows as CSV with the contract columns."""
    from snapfolio.export import export_csv
    from snapfolio.pipeline import resolve_portfolios

    _, _, engine = _context()
    portfolio_id = resolve_portfolios(engine, [portfolio])[portfolio]
    with engine.connect() as conn:
        if out is None:
            export_csv(conn, kind, portfolio_id, sys.stdout)
        else:
            with out.open("w", newline="") as fh:
                n = export_csv(conn, kind, portfolio_id, fh)
            err_console.print(f"wrote {n} rows to {out}")


@app.command()
def demo(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Last session to fill.")] = None,
) -> None:
    """Embedded database, synthetic prices, the example portfolios onboarded and run."""
    import os

    from snapfolio.pipeline import onboard_file

    os.environ.setdefault("SNAPFOLIO_PRICE_PROVIDER", "synthetic:unavailable=GGIPX+NEAIX")
    as_of_date = _parse_date(as_of, "--as-of")
    examples = Path(__file__).resolve().parent.parent / "examples" / "portfolios"
    _, _, engine = _context()
    files = sorted(examples.glob("*.csv"))
    for path in files:
        onboarded = onboard_file(engine, path, path.stem, replace=True)
        console.print(f"onboarded [bold]{path.stem}[/] ({onboarded.positions} positions)")
    _run(as_of_date, None, False, False)


def main() -> None:
    """Console entry point: maps known failures to one line and an exit code."""
    from ingest.portfolio_csv import PortfolioCsvError
    from ingest.portfolio_store import PortfolioExistsError
    from ingest.providers.base import ProviderError
    from snapfolio.dbt_runner import DbtBuildError
    from snapfolio.export import ExportError
    from snapfolio.pipeline import UnknownPortfolioError

    try:
        app(standalone_mode=False)
    except CliError as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(exc.code)
    except PortfolioCsvError as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False)
        err_console.print(exc.report(), highlight=False, markup=False)
        sys.exit(EXIT_BAD_INPUT)
    except (PortfolioExistsError, UnknownPortfolioError, ExportError) as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(EXIT_BAD_INPUT)
    except (ProviderError, DbtBuildError) as exc:
        err_console.print(f"[red]failed:[/] {exc}", highlight=False)
        sys.exit(EXIT_FAILED)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("[red]aborted[/]")
        sys.exit(EXIT_FAILED)
    except Exception as exc:  # noqa: BLE001 - the CLI promise: one line, never a traceback
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(EXIT_BAD_INPUT)
        err_console.print(f"[red]failed:[/] {type(exc).__name__}: {exc}", highlight=False)
        sys.exit(EXIT_FAILED)
