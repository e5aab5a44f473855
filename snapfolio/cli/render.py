"""What the CLI prints: rich tables and summaries (user strings printed literally)."""

from __future__ import annotations

import json
import sys
from datetime import date

from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from flows.results import portfolio_results

console = Console(width=None if sys.stdout.isatty() else 140)
err_console = Console(stderr=True, soft_wrap=True)


def cells(*values: object) -> list[Text]:
    """Table cells printed literally: a portfolio called `[bold]x` stays `[bold]x`."""
    return [Text("" if v is None else str(v)) for v in values]


def money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def print_summary(summary: dict, as_json: bool, engine) -> None:
    if as_json:
        print(json.dumps(summary, default=str, indent=2))
        return
    for note in summary.get("notes", []):
        err_console.print(f"[dim]note:[/] {escape(str(note))}", highlight=False)
    for warning in summary.get("warnings", []):
        err_console.print(f"[yellow]warning:[/] {escape(str(warning))}", highlight=False)
    table = Table(title=f"Portfolios as of {summary['as_of']}")
    columns = ("portfolio", "sessions", "last complete", "missing", "equity", "cum. P&L",
               "daily P&L", "vol 63d", "HAR 21d", "VaR 95", "top 3", "state")
    for col in columns:
        table.add_column(col, justify="left" if col in ("portfolio", "state") else "right",
                         no_wrap=col != "state")
    states = summary.get("portfolio_states") or {}
    as_of = date.fromisoformat(str(summary["as_of"]))
    for row in portfolio_results(engine, list(summary["portfolios"].values()), as_of):
        table.add_row(*cells(row["name"], row["sessions"], row["last_complete_date"] or "-",
                             row["missing_sessions"], money(row.get("equity")),
                             money(row.get("cumulative_pnl")), money(row.get("daily_pnl")),
                             pct(row.get("realized_vol_63d")), pct(row.get("har_vol_21d")),
                             pct(row.get("var_95_1d")), pct(row.get("top_3_weight")),
                             states.get(row["name"], "")))
    console.print(table)
    timings = ", ".join(f"{k} {v:.2f}s" for k, v in summary["timings"].items())
    console.print(f"run [bold]{escape(str(summary['run_id']))}[/]: "
                  f"[bold]{escape(str(summary['status']))}[/] · {escape(timings)}")
    providers = (summary.get("prices") or {}).get("providers") or {}
    if providers:
        from ingest.providers import served_summary

        console.print(Text(f"price providers (symbols served): {served_summary(providers)}"))
    checks = summary.get("checks") or {}
    if checks.get("data_docs"):
        console.print(Text(f"Data Docs: {checks['data_docs']}"))
    for failure in checks.get("failed", []):
        err_console.print(f"[red]check failed:[/] {escape(str(failure))}", highlight=False)


def status_table(found: dict) -> Table:
    """The run row as key/value lines (phase timings here only when the view has no
    phase table)."""
    table = Table(title=f"run {found['run_id']} ({found['kind']})", show_header=False)
    progress = found["progress"] or {}
    stats = found["stats"] or {}
    done, total = progress.get("done"), progress.get("total")
    rows = [
        ("status", found["status"]), ("phase", found["phase"] or "-"),
        ("progress", f"{done}/{total} steps" if total else "-"),
        ("elapsed", f"{found['elapsed_s']:.1f}s"),
        ("eta", f"{found['eta_s']:.1f}s" if found["eta_s"] is not None else "-"),
        ("started", found["started_at"]), ("finished", found["finished_at"] or "-"),
    ]
    if "phases" not in found:
        for name, seconds in (stats.get("timings") or {}).items():
            rows.append((f"  {name}", f"{seconds:.2f}s"))
    for name, state in sorted((stats.get("portfolio_states") or {}).items()):
        rows.append((f"  {name}", state))
    if stats.get("unavailable"):
        rows.append(("unavailable", ", ".join(f"{s} ({r})" for s, r in stats["unavailable"].items())))
    if (stats.get("checks") or {}).get("data_docs"):
        rows.append(("data docs", stats["checks"]["data_docs"]))
    if found["error_summary"]:
        rows.append(("error", found["error_summary"]))
    for key, value in rows:
        table.add_row(*cells(key, value))
    return table


def phases_table(phases: list[dict]) -> Table:
    """Every phase: state, duration (so far, for the running one) and its latest step."""
    table = Table(title="phases")
    for col in ("phase", "state", "duration", "step"):
        table.add_column(col, justify="right" if col == "duration" else "left")
    for p in phases:
        seconds = p.get("duration_s")
        table.add_row(*cells(p["phase"], p["state"], "-" if seconds is None else f"{seconds:.2f}s",
                             p.get("step") if p["state"] in ("running", "failed") else ""))
    return table


def messages_table(view: dict, *, debug: bool, last: int | None = None) -> Group:
    """The run's stored messages, oldest first (user-level; `debug` adds the phases'
    detail lines); `last` keeps the newest few (the live view)."""
    shown = [m for m in view.get("messages", []) if debug or m["audience"] == "user"]
    total = len(shown)
    shown = shown[-last:] if last else shown
    captured = ((view["stats"] or {}).get("messages") or {}).get("captured") or {}
    cap = ((view["stats"] or {}).get("messages") or {}).get("cap")
    dropped = sum(max(n - cap, 0) for a, n in captured.items()
                  if cap and (debug or a == "user"))
    title = "messages" + (" (with debug lines)" if debug else "")
    if len(shown) < total:
        title += f", newest {len(shown)} of {total}"
    if dropped:
        title += f", {dropped} older dropped (cap {cap} per run)"
    table = Table()
    for col in ("time", "phase", "level", "message"):
        table.add_column(col, no_wrap=col != "message")
    for m in shown:
        table.add_row(*cells(m["timestamp"][11:19], m["phase"], m["level"].lower(),
                             m["message"]))
    return Group(Text(title, style="italic"), table)  # a title would wrap to the table


def status_panel(view: dict, *, debug: bool = False, last: int | None = None) -> Group:
    """What `snapfolio status` prints: the run, its phases, its messages."""
    return Group(status_table(view), phases_table(view["phases"]),
                 messages_table(view, debug=debug, last=last))
