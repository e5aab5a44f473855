"""A local Prefect server started once in the background and reused, like the embedded
PostgreSQL: Prefect's ephemeral mode costs ~7 s per process, a warm server ~0.

If PREFECT_API_URL is already set (an existing server or Prefect Cloud), that is used
and nothing is started.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import fasteners

from flows.log_levels import levels_at_most

DEFAULT_PORT = 4200


def _healthy(api_url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as resp:
            return resp.status == 200
    except OSError:
        return False


def _free_port(preferred: int) -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])


# our packages' loggers are shipped to the Prefect API too: every phase's log lines
# (scope, requests, rows written, chunk ranges, gate results) show in the run's Logs tab
EXTRA_LOGGERS = "flows,ingest,factors,risk,expectations"


@contextmanager
def package_logs_to_prefect() -> Iterator[None]:
    """Inside a flow run: our packages' INFO lines reach Prefect's API handler.

    Prefect hands its API handler to the extra loggers but leaves their level unset, so
    under the root logger's WARNING every INFO line (scope, rows written, chunk ranges,
    gate results) was dropped before any handler saw it and the run page said "This run
    didn't generate logs". Restored afterwards: outside a run nothing is sent."""
    level = logging.getLevelName(os.environ.get("PREFECT_LOGGING_LEVEL", "INFO").upper())
    with levels_at_most(level, EXTRA_LOGGERS.split(",")):
        yield


def prefect_env(home: Path) -> dict[str, str]:
    return {
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "INFO"),
        "PREFECT_LOGGING_EXTRA_LOGGERS": os.environ.get("PREFECT_LOGGING_EXTRA_LOGGERS",
                                                        EXTRA_LOGGERS),
    }


def ensure_prefect_server(home: Path, port: int | None = None, timeout: float = 90.0) -> str:
    """Return the API URL of a running local server, starting one in the background if needed.

    Sets PREFECT_API_URL in this process so flows report to it.
    """
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    home.mkdir(parents=True, exist_ok=True)
    port_file = home / "prefect.port"
    with fasteners.InterProcessLock(str(home / "prefect.lock")):
        if port_file.exists():
            api_url = f"http://127.0.0.1:{port_file.read_text().strip()}/api"
            if _healthy(api_url):
                _activate(home, api_url)
                return api_url
        chosen = _free_port(port or int(os.environ.get("SNAPFOLIO_PREFECT_PORT", DEFAULT_PORT)))
        env = {**os.environ, **prefect_env(home)}
        env.pop("PREFECT_API_URL", None)
        # the UI must talk to this server's own API, whatever port it got
        env["PREFECT_UI_API_URL"] = f"http://127.0.0.1:{chosen}/api"
        log = (home / "prefect-server.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
             "--port", str(chosen)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        (home / "prefect.pid").write_text(str(proc.pid))
        api_url = f"http://127.0.0.1:{chosen}/api"
        deadline = time.monotonic() + timeout
        while not _healthy(api_url):
            if time.monotonic() > deadline:
                raise RuntimeError(f"Prefect server did not start; see {home / 'prefect-server.log'}")
            time.sleep(0.3)
        port_file.write_text(str(chosen))
    _activate(home, api_url)
    return api_url


def _activate(home: Path, api_url: str) -> None:
    os.environ.update(prefect_env(home))
    os.environ["PREFECT_API_URL"] = api_url


def ui_url(api_url: str) -> str:
    return api_url.removesuffix("/api")


def quiet_prefect_console() -> None:
    """Silence Prefect's console handler in the CLI (its failure logs carry tracebacks;
    the CLI prints one line). Logs still reach the Prefect API/UI. Call before prefect
    configures logging (its first import)."""
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")


def stop_prefect_server(home: Path) -> None:
    """Stop the background server started for `home` (tests own theirs)."""
    import signal

    pid_file = home / "prefect.pid"
    if not pid_file.exists():
        return
    try:
        os.killpg(int(pid_file.read_text()), signal.SIGTERM)
    except (ProcessLookupError, PermissionError, ValueError):
        pass
    pid_file.unlink(missing_ok=True)
    (home / "prefect.port").unlink(missing_ok=True)
