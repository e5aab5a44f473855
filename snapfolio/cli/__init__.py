"""The `snapfolio` command line (typer + rich): commands, rendering, error mapping."""

from __future__ import annotations


def main() -> None:
    """Console entry point."""
    from snapfolio.cli.commands import app
    from snapfolio.cli.errors import run_app

    run_app(app)
