"""The `snapfolio` command line (typer + rich).

Exit codes (README): 0 completed (warnings printed), 1 failed, 2 bad usage or input.
Errors are one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from snapfolio.cli.errors import EXIT_BAD_INPUT, EXIT_FAILED, CliError
from snapfolio.cli.render import cells, console, err_console, print_summary
from snapfolio.cli.symbols import symbols_app

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="snapfolio: per-portfolio daily history, kept current.")
prices_app = typer.Typer(help="Manual price loads.", no_args_is_help=True)
app.add_typer(prices_app, name="prices")
app.add_typer(symbols_app, name="symbols")



def _parse_date(value: str | None, option: str) -> date | None:
    """--as-of: checked against the input limits before anything is written."""
    from ingest.input_limits import validate_as_of

    return validate_as_of(value, option)


def _parse_equity(value: str | None) -> Decimal | None:
    from ingest.input_limits import validate_equity

    return None if value is None else validate_equity(value)


def _context():
    from snapfolio.core.database import get_engine, resolve_url
    from snapfolio.core.settings import load_settings

    settings = load_settings()
    url = resolve_url(settings)
    return settings, url, get_engine(settings)


def _prefect_ui() -> str:
    import os

    from flows.prefect_server import ui_url

    api = os.environ.get("PREFECT_API_URL")
    return ui_url(api) if api else "-"


def _run_flow(as_json: bool, **params) -> dict:
    """Run the one batch flow (a warm local Prefect server is started/reused) with a live
    progress bar; exit 1 when the run fails."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from flows.prefect_server import ensure_prefect_server, quiet_prefect_console
    from snapfolio.core.settings import load_settings

    ensure_prefect_server(load_settings().home)  # before prefect is imported: it reads env once
    quiet_prefect_console()
    from flows.flow import BatchFailedError, add_progress_listener, portfolio_batch
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                        TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                        console=err_console, disable=as_json, transient=True)
    bar = progress.add_task("starting", total=1)
    add_progress_listener(lambda phase, done, total: progress.update(
        bar, description=phase, completed=done, total=total))
    try:
        with progress:
            summary = portfolio_batch(**params)
    except BatchFailedError as exc:
        print_summary(exc.summary.as_stats(), as_json, _context()[2])
        raise CliError(f"run {exc.summary.run_id} failed: {exc.summary.error}", EXIT_FAILED) from None
    print_summary(summary, as_json, _context()[2])
    return summary


@app.command()
def onboard(
    file: Annotated[Path, typer.Argument(help="Portfolio CSV (12-column broker format).")],
    name: Annotated[str, typer.Option("--name", help="Portfolio name (unique).")],
    equity: Annotated[str | None, typer.Option("--equity", help="Initial equity; default Σ|q × entry × multiplier|.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Last session to fill (YYYY-MM-DD).")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Re-onboard an existing name.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
) -> None:
    """Import a portfolio CSV, then bring that portfolio current (the batch flow, scoped to it)."""
    from ingest.input_limits import validate_portfolio_name
    from ingest.portfolio_csv import parse_portfolio_csv
    from ingest.portfolio_store import PortfolioExistsError

    name = validate_portfolio_name(name)
    as_of_date = _parse_date(as_of, "--as-of")
    equity_value = _parse_equity(equity)
    parse_portfolio_csv(file)  # bad input: exit 2 before any run starts
    _, _, engine = _context()
    if not replace:
        from flows.phases.plan import resolve_portfolios

        with engine.connect():
            try:
                resolve_portfolios(engine, [name])
            except ValueError:
                pass
            else:
                raise PortfolioExistsError(
                    f"portfolio {name!r} already exists; use --replace to re-onboard it")
    _run_flow(as_json, kind="onboarding", csv_path=str(file.resolve()), name=name,
              equity=float(equity_value) if equity_value is not None else None,
              replace=replace, as_of=as_of_date)


@app.command()
def run(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Last session to fill (default: last completed NYSE session).")] = None,
    portfolio: Annotated[list[str] | None, typer.Option("--portfolio", help="Limit to these portfolios (repeatable).")] = None,
    retry_unavailable: Annotated[bool, typer.Option("--retry-unavailable", help="Ask providers again for symbols marked unavailable.")] = False,
    kind: Annotated[str, typer.Option("--kind", help="daily | backfill (recorded in run history).")] = "daily",
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
    shards: Annotated[int | None, typer.Option("--shards", help="Split the book into N child runs on the work pool (portfolio_id mod N).")] = None,
    pool: Annotated[str, typer.Option("--pool", help="Work pool the shards run on (with --shards).")] = "snapfolio",
) -> None:
    """Fill every portfolio's missing sessions up to as_of: prices, factors, dbt, risk, checks."""
    if kind not in ("daily", "backfill"):
        raise CliError(f"--kind: expected daily or backfill, got {kind!r}", EXIT_BAD_INPUT)
    as_of_date = _parse_date(as_of, "--as-of")
    if shards is not None and not 1 <= shards <= 1_000:
        raise CliError(f"--shards: expected 1 to 1000, got {shards}", EXIT_BAD_INPUT)
    if portfolio:
        from flows.phases.plan import resolve_portfolios

        _, _, engine = _context()
        resolve_portfolios(engine, portfolio)  # unknown name: exit 2 before a run starts
    if shards is not None:
        _run_shards(as_json, shards=shards, pool=pool, as_of=as_of_date,
                    portfolios=portfolio or None, kind=kind, retry_unavailable=retry_unavailable)
        return
    _run_flow(as_json, as_of=as_of_date, portfolios=portfolio or None, kind=kind,
              retry_unavailable=retry_unavailable)


def _run_shards(as_json: bool, **params) -> None:
    """The parent flow run of `run --shards`: one table row per shard; exit 1 naming
    each shard that did not complete (its portfolios are retried by the next run)."""
    import asyncio

    from flows.prefect_server import ensure_prefect_server, quiet_prefect_console
    from snapfolio.core.settings import load_settings

    ensure_prefect_server(load_settings().home)
    _context()  # database up and migrated before any shard starts
    quiet_prefect_console()
    from flows.shards import ShardsFailedError, sharded_batch

    try:
        results = asyncio.run(sharded_batch(**params))
    except ShardsFailedError as exc:
        results = exc.results
    failed = [r for r in results if r["state"] != "COMPLETED"]
    if as_json:
        print(json.dumps(results, default=str, indent=2))
    else:
        table = Table(title=f"{len(results)} shard(s) on work pool {params['pool']}")
        for col in ("shard", "portfolios", "state", "duration", "worker", "flow run"):
            table.add_column(col)
        for r in results:
            duration = f"{r['duration_s']:.1f}s" if r["duration_s"] is not None else "-"
            table.add_row(*cells(str(r["shard"]), ", ".join(r["portfolios"]), r["state"],
                                 duration, r["worker"] or "-", r["flow_run_id"] or "-"))
        console.print(table)
    if failed:
        named = "; ".join(f"shard {r['shard']} ({r['state'].lower()}: {', '.join(r['portfolios'])})"
                          for r in failed)
        raise CliError(f"{len(failed)} of {len(results)} shard(s) did not complete: {named}; "
                       "their portfolios are retried by the next run", EXIT_FAILED)


@app.command()
def worker(
    pool: Annotated[str, typer.Option("--pool", help="Work pool to poll (created if missing).")] = "snapfolio",
    name: Annotated[str | None, typer.Option("--name", help="Worker name shown in the Prefect UI (default: generated).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Most flow runs this worker runs at once.")] = None,
) -> None:
    """Start a Prefect process worker for the pool against PREFECT_API_URL (or the local
    server); it runs `snapfolio run --shards` children against SNAPFOLIO_DATABASE_URL (blocks)."""
    import asyncio
    import os

    from flows.prefect_server import ensure_prefect_server
    from snapfolio.core.settings import load_settings

    if limit is not None and limit < 1:
        raise CliError(f"--limit: expected a positive integer, got {limit}", EXIT_BAD_INPUT)
    settings = load_settings()
    api = ensure_prefect_server(settings.home)
    _context()  # database up and migrated before the first run
    # flow runs start in a scratch directory: pin the home they share with this worker
    os.environ["SNAPFOLIO_HOME"] = str(settings.home)
    console.print(Text(f"worker on pool {pool} (API {api}); Ctrl-C to stop"))
    from flows.shards import serve_worker

    try:
        asyncio.run(serve_worker(pool, name, limit))
    except KeyboardInterrupt:
        console.print(Text("worker stopped"))


@app.command()
def status(
    run_id: Annotated[str | None, typer.Argument(help="Run id (default: the latest run).")] = None,
    portfolio: Annotated[str | None, typer.Option("--portfolio", help="The latest run that touched this portfolio.")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Add the phases' detail log lines.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object (with phases and messages).")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Live view until the run finishes.")] = False,
) -> None:
    """Every phase's state and duration, progress, ETA and the run's messages; a run
    that failed or crashed exits 1, `not_found` exits 1, an unknown portfolio exits 2."""
    import time

    from rich.live import Live

    from flows.run_history import reconcile_stale_runs
    from snapfolio.cli.render import status_panel
    from snapfolio.cli.status import latest_run_for_portfolio, status_view

    if run_id and portfolio:
        raise CliError("give a run id or --portfolio, not both", EXIT_BAD_INPUT)
    _, _, engine = _context()
    reconcile_stale_runs(engine)
    if portfolio is not None:
        run_id = latest_run_for_portfolio(engine, portfolio)
        if run_id is None:
            from flows.phases.plan import resolve_portfolios

            resolve_portfolios(engine, [portfolio])  # unknown name: exit 2
            _not_found(as_json, None, f"no run has touched portfolio {portfolio} yet")
    found = status_view(engine, run_id)
    if found is None:
        _not_found(as_json, run_id, f"no run {run_id or '(none yet)'}")
    if watch and not as_json:
        with Live(status_panel(found, debug=debug, last=20), console=console,
                  refresh_per_second=2) as live:
            while found["status"] == "running":
                time.sleep(1)
                reconcile_stale_runs(engine)
                found = status_view(engine, found["run_id"])
                live.update(status_panel(found, debug=debug, last=20))
            live.update(status_panel(found, debug=debug))
    else:
        while watch and found["status"] == "running":
            time.sleep(1)
            reconcile_stale_runs(engine)
            found = status_view(engine, found["run_id"])
        if as_json:
            print(json.dumps(found, default=str, indent=2))
        else:
            console.print(status_panel(found, debug=debug))
    if found["status"] in ("failed", "crashed"):
        raise typer.Exit(EXIT_FAILED)


def _not_found(as_json: bool, run_id: str | None, message: str) -> None:
    if as_json:
        print(json.dumps({"run_id": run_id, "status": "not_found"}))
    else:
        err_console.print(Text.assemble(("not_found: ", "red"), message))
    raise typer.Exit(EXIT_FAILED)


@app.command()
def check(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Session the portfolios must be current through.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Run the Great Expectations checkpoint alone (no batch); exit 1 on a failed gate."""
    from expectations import run_checks
    from flows.phases.plan import default_as_of

    settings, _, _ = _context()
    as_of_date = _parse_date(as_of, "--as-of") or default_as_of()
    report = run_checks(settings, as_of=as_of_date)
    if as_json:
        print(json.dumps({"status": report.status, "success": report.success,
                          "results": report.results, "data_docs": str(report.data_docs_index),
                          "elapsed_s": report.elapsed_s}, default=str, indent=2))
    else:
        table = Table(title=f"Data-quality gate as of {as_of_date}: {report.status}")
        for col in ("expectation", "severity", "result", "details"):
            table.add_column(col)
        for r in report.results:
            table.add_row(*cells(r["name"], r["severity"], "pass" if r["success"] else "FAIL",
                                 r["details"] or ""))
        console.print(table)
        console.print(Text(f"Data Docs: {report.data_docs_index}"))
    if not report.success:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def server() -> None:
    """Start (or reuse) the local Prefect server and serve the deployments (blocks).

    The UI lists the daily, onboarding and backfill deployments; trigger an onboarding
    with "Custom run" (csv_path, name, equity)."""
    from flows.prefect_server import ensure_prefect_server, ui_url
    from snapfolio.core.settings import load_settings

    api = ensure_prefect_server(load_settings().home)
    _context()  # database up and migrated before the first scheduled run
    console.print(f"Prefect UI: [bold]{ui_url(api)}[/] (API {api}); serving deployments, Ctrl-C to stop")
    from flows.deployments import serve_deployments

    serve_deployments()


@app.command()
def export(
    kind: Annotated[str, typer.Argument(help="snapshots | positions | exposures | risk | position-risk | sectors | stress | correlations")],
    portfolio: Annotated[str, typer.Option("--portfolio", help="Portfolio name.")],
    out: Annotated[Path | None, typer.Option("--out", help="Output file (default: stdout); replaced only when complete.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="correlations only: the matrix of the last stored session on or before this date (computed on demand).")] = None,
) -> None:
    """Export one portfolio's rows as CSV with the contract columns (sorted by date, then key)."""
    from flows.phases.plan import resolve_portfolios
    from snapfolio.cli.exports import check_request, export_csv, export_file

    check_request(kind, as_of)  # kind and --as-of use: exit 2 before anything is opened
    as_of_date = _parse_date(as_of, "--as-of")
    _, _, engine = _context()
    portfolio_id = resolve_portfolios(engine, [portfolio])[portfolio]
    with engine.connect() as conn:
        if out is None:
            export_csv(conn, kind, portfolio_id, sys.stdout, as_of_date, portfolio)
        else:
            n = export_file(conn, kind, portfolio_id, out, as_of_date, portfolio)
            err_console.print(Text(f"wrote {n} rows to {out}"))


def _largest_cumulative_return(results: list[dict]) -> tuple[str, float] | None:
    """(name, return) of the portfolio whose cumulative P&L / initial equity is largest in
    absolute value (initial equity = equity − cumulative P&L, DESIGN "Accounting")."""
    returns = [(r["name"], r["cumulative_pnl"] / (r["equity"] - r["cumulative_pnl"]))
               for r in results if r.get("equity") is not None
               and r["equity"] != r["cumulative_pnl"]]
    return max(returns, key=lambda nr: abs(nr[1]), default=None)


@app.command()
def demo(
    as_of: Annotated[str | None, typer.Option("--as-of", help="Last session to fill.")] = None,
) -> None:
    """Embedded database, synthetic prices, the example portfolios onboarded and run."""
    import os

    os.environ.setdefault("SNAPFOLIO_PRICE_PROVIDER", "synthetic:unavailable=GGIPX+NEAIX")
    as_of_date = _parse_date(as_of, "--as-of")
    examples = Path(__file__).resolve().parents[2] / "examples" / "portfolios"
    files = {path.stem: str(path) for path in sorted(examples.glob("*.csv"))}
    console.print(f"onboarding {len(files)} example portfolios through the batch flow: "
                  + ", ".join(files), markup=False)
    summary = _run_flow(False, as_of=as_of_date, kind="onboarding", portfolio_files=files,
                        replace=True)
    from flows.results import portfolio_results
    from snapfolio.cli.report import write_report

    settings, _, engine = _context()
    results = portfolio_results(engine, list(summary["portfolios"].values()),
                                date.fromisoformat(str(summary["as_of"])))
    largest = _largest_cumulative_return(results)
    if largest:
        console.print(Text(f"Largest absolute cumulative return: {largest[0]} {largest[1]:+.2%} "
                           "(cumulative P&L / initial equity, latest session)"))
    console.print("Reports:")
    for name, portfolio_id in sorted(summary["portfolios"].items()):
        path, _ = write_report(engine, settings.home, name, portfolio_id, None, None)
        console.print(Text(f"  {name}: {path}"))
    console.print(Text(f"Prefect UI: {_prefect_ui()}  ·  Data Docs: "
                       f"{(summary.get('checks') or {}).get('data_docs', '-')}"))
    console.print(Text("Background servers keep running for the next commands; "
                       "stop them with: .venv/bin/snapfolio stop"))


@app.command()
def stop() -> None:
    """Stop the background embedded PostgreSQL and local Prefect server of SNAPFOLIO_HOME."""
    from flows.prefect_server import stop_prefect_server
    from snapfolio.core.embedded_pg import stop_embedded_server
    from snapfolio.core.settings import load_settings

    home = load_settings().home
    stop_prefect_server(home)
    stop_embedded_server(home)
    console.print(Text(f"stopped the background servers of {home}"))


@prices_app.command("load")
def prices_load(
    file: Annotated[Path, typer.Argument(help="CSV: symbol,date,close[,adj_close] (NYSE sessions).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Load closes for symbols no provider has (private funds); validated like a portfolio
    CSV, written in one transaction; the next run restates the portfolios holding them."""
    from ingest.manual_prices import load_manual_prices

    _, _, engine = _context()
    result = load_manual_prices(engine, file)
    if as_json:
        print(json.dumps(result.as_stats(), default=str))
        return
    console.print(Text(f"loaded {result.rows} prices for {', '.join(result.symbols)} "
                  f"({result.first_date}..{result.last_date}): {result.rows_stored} written, "
                  f"{result.restated_portfolios} portfolio(s) restated on the next run"))




@app.command()
def report(
    portfolio: Annotated[str, typer.Option("--portfolio", help="Portfolio name.")],
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="Report the last stored session on or before this date.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="HTML file (default: $SNAPFOLIO_HOME/reports/NAME-DATE.html).")] = None,
) -> None:
    """Write one self-contained HTML report (charts inline, no network needed to view it)."""
    from flows.phases.plan import resolve_portfolios
    from snapfolio.cli.report import ReportError, write_report

    as_of_date = _parse_date(as_of, "--as-of")
    settings, _, engine = _context()
    portfolio_id = resolve_portfolios(engine, [portfolio])[portfolio]
    try:
        path, _ = write_report(engine, settings.home, portfolio, portfolio_id, as_of_date, out)
    except ReportError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    print(path)
