"""The `snapfolio` command line (typer + rich): commands, rendering, error mapping."""

from __future__ import annotations


def main() -> None:
    """Console entry point."""
    _private_runtime_dir()
    from snapfolio.cli.commands import app
    from snapfolio.cli.errors import run_app

    run_app(app)


def _private_runtime_dir() -> None:
    """platformdirs warns on every command when XDG_RUNTIME_DIR is unset (containers,
    cron): give it a private directory instead of printing our environment's noise."""
    import os
    import tempfile

    if not os.environ.get("XDG_RUNTIME_DIR"):
        path = os.path.join(tempfile.gettempdir(), f"snapfolio-runtime-{os.getuid()}")
        os.makedirs(path, mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = path
