"""Every PostgreSQL advisory lock snapfolio takes: the keys and the lock session.

Run exclusivity comes from advisory locks, never from a flag in a table. Session locks
live on one dedicated autocommit connection: a process killed at any moment drops the
connection and PostgreSQL releases every lock with it, so nothing can stay stuck.
Transaction-level locks (`xact_lock`) end with the caller's transaction.

The keys are all here so that no two modules can pick the same number and a reader
finds every serialization point in one place. The GX check `no_stuck_runs.sql` spells
RUN_LOCK_CLASS as a literal on purpose (it is an independent copy; keep them equal).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

# single-key locks (pg_advisory_lock(bigint))
MIGRATION_LOCK_KEY = 7_246_001  # xact: serializes schema upgrades and the calendar load
DBT_LOCK_KEY = 7_246_002  # session, exclusive for a dbt build; restatement writers take it shared
CHECK_LOCK_KEY = 7_246_003  # session: one GX checkpoint run (and GX config write) at a time
FACTORS_LOCK_KEY = 7_246_010  # xact: serializes beta writes and the price writes that delete betas

# two-key locks (pg_advisory_lock(int, int)): (class, id)
PORTFOLIO_LOCK_CLASS = 7246  # (class, portfolio_id): a run is processing that portfolio
RUN_LOCK_CLASS = 7247  # (class, hashtext(run_id)): held while a run is alive


def xact_lock(conn: sa.Connection, key: int, *, shared: bool = False) -> None:
    """Wait for a transaction-level advisory lock, released at the caller's commit."""
    fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    conn.execute(sa.text(f"select {fn}(:k)"), {"k": key})


def hold_off_dbt_builds(conn: sa.Connection) -> None:
    """In a transaction that writes restatement marks: wait out a running dbt build and
    keep the next one from starting until this commits, so a mark is either visible to a
    build or stamped after it (never consumed by a build that could not see its data)."""
    xact_lock(conn, DBT_LOCK_KEY, shared=True)


@contextmanager
def session_lock(engine: Engine, key: int, *, timeout_s: float | None = None) -> Iterator[None]:
    """Hold an exclusive session advisory lock for a block, on a dedicated autocommit
    connection (never idle in a transaction, so `idle_in_transaction_session_timeout`
    cannot drop it; TCP keepalives on every connection, see core.database). With
    `timeout_s`, waiting longer raises sqlalchemy's OperationalError; the timeout is
    `set local` inside the acquiring transaction, so it never leaks into the pool."""
    with engine.connect() as conn:
        if timeout_s is None:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(sa.text("select pg_advisory_lock(:k)"), {"k": key})
        else:
            with conn.begin():
                conn.execute(sa.text(f"set local lock_timeout = '{float(timeout_s):g}s'"))
                conn.execute(sa.text("select pg_advisory_lock(:k)"), {"k": key})
            conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            yield
        finally:
            conn.execute(sa.text("select pg_advisory_unlock(:k)"), {"k": key})


class LockLostError(RuntimeError):
    """A run's advisory lock is gone (its connection was dropped): stop before writing."""


class LockSession:
    """Holds a run's advisory locks on its own autocommit connection until close()."""

    def __init__(self, engine: Engine) -> None:
        self._conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self.portfolios: set[int] = set()

    def lock_run(self, run_id: str) -> None:
        self._conn.execute(sa.text("select pg_advisory_lock(:c, hashtext(:r))"),
                           {"c": RUN_LOCK_CLASS, "r": run_id})

    def try_lock_portfolios(self, portfolio_ids: list[int]) -> tuple[list[int], list[int]]:
        """Lock what is free; never wait. Returns (acquired, held_elsewhere)."""
        acquired, skipped = [], []
        for pid in sorted(portfolio_ids):  # one round trip per id; ids are few per run
            if pid in self.portfolios:
                acquired.append(pid)
                continue
            ok = self._conn.execute(sa.text("select pg_try_advisory_lock(:c, :p)"),
                                    {"c": PORTFOLIO_LOCK_CLASS, "p": pid}).scalar()
            (acquired if ok else skipped).append(pid)
            if ok:
                self.portfolios.add(pid)
        return acquired, skipped

    def verify(self, portfolio_ids: list[int]) -> None:
        """Before writing marts: this session still holds every portfolio's lock (a
        dropped connection would have released them). Raises LockLostError otherwise."""
        held = set(self._conn.execute(
            sa.text("select objid::bigint from pg_locks where locktype = 'advisory' and granted "
                    "and pid = pg_backend_pid() and classid = :c and objsubid = 2"),
            {"c": PORTFOLIO_LOCK_CLASS}).scalars())
        lost = sorted(set(portfolio_ids) - held)
        if lost:
            raise LockLostError(f"run no longer holds the locks of portfolio(s) {lost}")

    def close(self) -> None:
        try:
            self._conn.execute(sa.text("select pg_advisory_unlock_all()"))
        finally:
            self._conn.close()


def run_is_alive(conn: sa.Connection, run_id: str) -> bool:
    """True while some session holds the run's lock (its process is alive)."""
    return bool(conn.execute(
        sa.text("select exists (select 1 from pg_locks where locktype = 'advisory' and granted "
                "and database = (select oid from pg_database where datname = current_database()) "
                "and classid = :c and objid = hashtext(:r)::oid and objsubid = 2)"),
        {"c": RUN_LOCK_CLASS, "r": run_id},
    ).scalar())
