"""How the CLI fails: exit codes and one line on stderr, never a traceback.

Exit codes (README): 0 completed (warnings printed), 1 failed, 2 bad usage or input.
"""

from __future__ import annotations

import sys

import typer

from snapfolio.cli.render import err_console

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def fail(label: str, message: str, code: int, details: str | None = None) -> None:
    """One line on stderr (no markup interpretation of the message), then exit."""
    from rich.text import Text

    err_console.print(Text.assemble((f"{label}: ", "bold red"), message))
    if details:
        err_console.print(details, highlight=False, markup=False)
    sys.exit(code)



def run_app(app: typer.Typer) -> None:
    """Run the typer app, mapping known failures to one line and an exit code."""
    from flows.dbt_runner import DbtBuildError
    from flows.phases.plan import UnknownPortfolioError
    from ingest.input_limits import InputError
    from ingest.portfolio_csv import CsvRejectedError
    from ingest.portfolio_store import PortfolioExistsError
    from ingest.providers.base import ProviderError
    from snapfolio.cli.exports import ExportError
    from snapfolio.core.settings import SettingsError

    try:
        code = app(standalone_mode=False)  # click returns (not raises) typer.Exit codes here
        if isinstance(code, int) and code:
            sys.exit(code)
    except CliError as exc:
        fail("error" if exc.code == EXIT_BAD_INPUT else "failed", str(exc), exc.code)
    except CsvRejectedError as exc:
        fail("error", str(exc), EXIT_BAD_INPUT, details=exc.report())
    except (InputError, SettingsError) as exc:
        fail("error", str(exc), EXIT_BAD_INPUT)
    except (PortfolioExistsError, UnknownPortfolioError, ExportError) as exc:
        fail("error", str(exc), EXIT_BAD_INPUT)
    except (ProviderError, DbtBuildError) as exc:
        fail("failed", str(exc), EXIT_FAILED)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        fail("aborted", "interrupted", EXIT_FAILED)
    except Exception as exc:  # noqa: BLE001 - the CLI promise: one line, never a traceback
        import click

        # typer 0.2x vendors click (typer._click): both kinds of usage error are exit 2
        if isinstance(exc, click.ClickException) or (
                hasattr(exc, "show") and type(exc).__name__.endswith(("UsageError",
                                                                     "BadParameter"))):
            exc.show()
            sys.exit(EXIT_BAD_INPUT)
        first_line = (str(exc).splitlines() or [""])[0]
        fail("failed", f"{type(exc).__name__}: {first_line}", EXIT_FAILED)
