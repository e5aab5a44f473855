"""Every PostgreSQL advisory lock snapfolio takes: the keys and the lock session.

Run exclusivity comes from advisory locks, never from a flag in a table. Session locks
live on one dedicated autocommit connection: a process killed at any moment drops the
connection and PostgreSQL releases every lock with it, so nothing can stay stuck.
Transaction-level locks (`xact_lock`) end with the caller's transaction.

The keys are all here so that no two modules can pick the same number and a reader
finds every serialization point in one place. The GX check `no_stuck_runs.sql` spells
RUN_LOCK_CLASS as a literal on purpose (it is an independent copy; keep them equal).

dbt builds (issue #18, "concurrent builds"): a build's state is its own (its
raw.build_scope and raw.risk_work rows, keyed by its build id; its slot's intermediate
schema and target directory), and the portfolios of two runs are disjoint (the
portfolio locks), so two builds have nothing to serialize on but three things:

* the project (DBT_PROJECT_LOCK_KEY): views and seeds are shared by every build and
  are swapped (DDL) when the project changed, so that rebuild is exclusive for the
  whole build, and every other build holds the key SHARED for its duration: a rebuild
  waits for the builds running on the old views, later builds wait for the rebuild,
  and normal builds never wait for each other;
* the restatement handshake (DBT_STAMP_LOCK_CLASS): a mark must be either visible to
  a build or stamped after the build's start (the build drops the marks stamped before
  it started). Writers of marks hold the stamp key of every slot shared until they
  commit (`hold_off_dbt_builds`); a build takes its own slot's stamp key exclusively,
  only for the instant it stamps its start (`stamp_build_start`), which waits out the
  writers in flight and nothing else: a writer that got the keys before the stamp has
  committed before it, one that gets them after stamps its marks (clock_timestamp())
  after it. One key per slot, not one for all builds: two builds starting at the same
  moment (two shards) would otherwise queue for each other's instant; writers never
  wait for each other (shared), builds never wait for each other (one slot each);
* the build slot (DBT_SLOT_LOCK_CLASS, i): one build at a time per intermediate schema
  and dbt target directory, picked from a pool of DBT_SLOTS without waiting
  (`pooled_lock`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

# single-key locks (pg_advisory_lock(bigint))
MIGRATION_LOCK_KEY = 7_246_001  # xact: serializes schema upgrades and the calendar load
# session: exclusive for a build that rebuilds the project's views/seeds (project changed,
# or a full refresh); shared for every other build (accounting or risk) while it runs
DBT_PROJECT_LOCK_KEY = 7_246_002
CHECK_LOCK_KEY = 7_246_003  # session: one GX checkpoint run (and GX config write) at a time
FACTORS_LOCK_KEY = 7_246_010  # xact: serializes beta writes and the price writes that delete betas

# two-key locks (pg_advisory_lock(int, int)): (class, id)
PORTFOLIO_LOCK_CLASS = 7246  # (class, portfolio_id): a run is processing that portfolio
RUN_LOCK_CLASS = 7247  # (class, hashtext(run_id)): held while a run is alive
DBT_SLOT_LOCK_CLASS = 7248  # (class, i), session: a dbt build is using build slot i
# (class, i), xact: the build in slot i takes it exclusively for the instant it stamps
# its start (never across the build); restatement-mark writers hold every i shared
# until they commit
DBT_STAMP_LOCK_CLASS = 7249
DBT_SLOTS = 16  # i in 0..DBT_SLOTS-1: dbt builds that can run at once on one database


def xact_lock(conn: sa.Connection, key: int, *, shared: bool = False) -> None:
    """Wait for a transaction-level advisory lock, released at the caller's commit."""
    fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    conn.execute(sa.text(f"select {fn}(:k)"), {"k": key})


def hold_off_dbt_builds(conn: sa.Connection) -> None:
    """In a transaction that writes restatement marks (raw.restatements, raw.risk_marks),
    before its first mark: keep builds from stamping their start until this commits, so
    a mark is either visible to a build or stamped after that build's start (never
    consumed by a build that could not see its data). Every slot's stamp key, shared
    (in slot order, one statement): writers never wait for each other, and a build
    holds its key only for the instant of its stamp, so this waits at most that
    instant, never for a running build."""
    conn.execute(sa.text("select count(pg_advisory_xact_lock_shared(:c, i)) "
                         "from generate_series(0, :n - 1) as i"),
                 {"c": DBT_STAMP_LOCK_CLASS, "n": DBT_SLOTS})


def stamp_build_start(engine: Engine, slot: int) -> datetime:
    """The start of the build in `slot` (or of the risk phase), for the marks it may
    consume: taken under the slot's stamp key exclusively, in its own short
    transaction, so every mark writer in flight (they hold every slot's key shared)
    has committed (its marks and data are visible to every statement the build runs
    after this) and every later writer stamps its marks after the returned time (marks
    default to clock_timestamp(), written after the writer's `hold_off_dbt_builds`).
    The lock ends with this transaction, not with the build; no other build waits for
    it (each has its own slot)."""
    with engine.begin() as conn:
        conn.execute(sa.text("select pg_advisory_xact_lock(:c, :i)"),
                     {"c": DBT_STAMP_LOCK_CLASS, "i": slot})
        return conn.execute(sa.text("select clock_timestamp()")).scalar_one()


@contextmanager
def session_lock(engine: Engine, key: int, *, timeout_s: float | None = None,
                 shared: bool = False) -> Iterator[None]:
    """Hold a session advisory lock (exclusive, or `shared`) for a block, on a dedicated
    autocommit connection (never idle in a transaction, so
    `idle_in_transaction_session_timeout` cannot drop it; TCP keepalives on every
    connection, see core.database). With `timeout_s`, waiting longer raises
    sqlalchemy's OperationalError; the timeout is `set local` inside the acquiring
    transaction, so it never leaks into the pool."""
    suffix = "_shared" if shared else ""
    with engine.connect() as conn:
        if timeout_s is None:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(sa.text(f"select pg_advisory_lock{suffix}(:k)"), {"k": key})
        else:
            with conn.begin():
                conn.execute(sa.text(f"set local lock_timeout = '{float(timeout_s):g}s'"))
                conn.execute(sa.text(f"select pg_advisory_lock{suffix}(:k)"), {"k": key})
            conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            yield
        finally:
            conn.execute(sa.text(f"select pg_advisory_unlock{suffix}(:k)"), {"k": key})


@contextmanager
def pooled_lock(engine: Engine, lock_class: int, size: int, *,
                poll_s: float = 0.5) -> Iterator[int]:
    """Hold the first free (lock_class, i) of i in 0..size-1 for a block; yields i.

    Never waits on a lock (pg_try_advisory_lock), so two callers never queue behind
    each other: each takes a different i. Only when all `size` are taken does it poll
    until one frees. Session-level on a dedicated autocommit connection: a crashed
    process frees its i with its connection."""
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        while (i := _try_first_free(conn, lock_class, size)) is None:
            time.sleep(poll_s)
        try:
            yield i
        finally:
            conn.execute(sa.text("select pg_advisory_unlock(:c, :i)"), {"c": lock_class, "i": i})


def _try_first_free(conn: sa.Connection, lock_class: int, size: int) -> int | None:
    for i in range(size):
        if conn.execute(sa.text("select pg_try_advisory_lock(:c, :i)"),
                        {"c": lock_class, "i": i}).scalar():
            return i
    return None


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
