"""`snapfolio symbols load FILE.csv`: the operator's sector profiles (source `manual`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from snapfolio.cli.render import console

symbols_app = typer.Typer(help="Symbol profiles (sectors).", no_args_is_help=True)


@symbols_app.command("load")
def symbols_load(
    file: Annotated[Path, typer.Argument(
        help="CSV: symbol,sector[,industry][,name][,is_etf] (GICS or Yahoo sector names).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Set symbols' sectors by hand (they win over the seed and the provider); validated
    whole, written in one transaction; the next run restates the portfolios holding a
    symbol whose sector changed, every session."""
    from ingest.symbol_profiles import load_symbol_profiles
    from snapfolio.core.database import get_engine
    from snapfolio.core.settings import load_settings

    result = load_symbol_profiles(get_engine(load_settings()), file)
    if as_json:
        print(json.dumps(result.as_stats(), default=str))
        return
    changed = ", ".join(result.reclassified) or "none"
    console.print(Text(f"loaded {result.rows} symbol profile(s): {len(result.written)} written, "
                       f"sector changed for {changed}; {result.restated_portfolios} "
                       "portfolio(s) restated on the next run"))
