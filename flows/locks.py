"""Run exclusivity from PostgreSQL session advisory locks, never from a flag in a table.

The locks live on one dedicated connection: a process killed at any moment drops the
connection and PostgreSQL releases every lock with it, so nothing can stay stuck.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

PORTFOLIO_LOCK_CLASS = 7246  # pg_advisory_lock(int, int): (class, portfolio_id)
DBT_LOCK_KEY = 7_246_002  # exclusive for a dbt build; writers of restatement marks take it shared


def hold_off_dbt_builds(conn: sa.Connection) -> None:
    """In a transaction that writes restatement marks: wait out a running dbt build and
    keep the next one from starting until this commits, so a mark is either visible to a
    build or stamped after it (never consumed by a build that could not see its data)."""
    conn.execute(sa.text("select pg_advisory_xact_lock_shared(:k)"), {"k": DBT_LOCK_KEY})
RUN_LOCK_CLASS = 7247  # (class, hashtext(run_id)): held while a run is alive


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
