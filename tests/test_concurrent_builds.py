"""Concurrent builds (issue #18): two shards' dbt builds and risk phases run at the same
time and do not block each other.

What may serialize builds (snapfolio/core/locks.py): the project rebuild (exclusive,
only when views/seeds are not current), the start stamp (an instant), a build slot (a
try-lock, never waited on while one is free). The end-to-end test runs the real phases
(flows.phases.dbt_build.build_marts, flows.phases.risk.run_risk) for two disjoint halves
of the lag book in two processes, samples pg_locks / pg_stat_activity while they run,
and compares the marts with a single-process build of the same book from the same
starting point, row by row.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from test_shards import clone_database, drop_database, lag_book, marts

from flows.dbt_runner import build_slot, project_lock
from flows.phases import factors
from snapfolio.core.locks import (
    DBT_PROJECT_LOCK_KEY,
    DBT_SLOT_LOCK_CLASS,
    DBT_SLOTS,
    DBT_STAMP_LOCK_CLASS,
    PORTFOLIO_LOCK_CLASS,
    RUN_LOCK_CLASS,
    hold_off_dbt_builds,
    stamp_build_start,
)

AS_OF = date(2025, 3, 7)

# One shard in its own process: wait for the others (`parties` in all) at a barrier
# before each phase (so all start each phase together), then the phases as the batch
# runs them (flows/batch.py: risk marks, accounting build, risk phase). The dbt
# invocation of each phase (inside every lock the phase takes) is timed by wrapping the
# phase modules' dbt_build / _compute_and_build; a phase that waited for the other's
# lock would start its inner interval only after the other's ended.
SHARD = textwrap.dedent("""
    import json, sys, time
    from datetime import date
    from pathlib import Path

    import flows.phases.dbt_build as dbt_phase
    import flows.phases.risk as risk_phase
    from flows.phases import plan
    from snapfolio.core.database import get_engine, resolve_url
    from snapfolio.core.settings import load_settings

    me, ids, as_of, barriers = sys.argv[1], json.loads(sys.argv[2]), date.fromisoformat(
        sys.argv[3]), Path(sys.argv[4])
    parties = int(sys.argv[5])
    spans = []

    def timed(kind, fn):
        def wrapper(*args, **kwargs):
            start = time.time()
            try:
                return fn(*args, **kwargs)
            finally:
                spans.append({"kind": kind, "start": start, "end": time.time(),
                              "slot": kwargs.get("slot", args[-1] if args else None)})
        return wrapper

    dbt_phase.dbt_build = timed("dbt", dbt_phase.dbt_build)
    risk_phase._compute_and_build = timed("risk", risk_phase._compute_and_build)

    def barrier(name):
        (barriers / f"{name}.{me}").touch()
        deadline = time.monotonic() + 600
        while len(list(barriers.glob(f"{name}.*"))) < parties:
            if time.monotonic() > deadline:
                raise SystemExit(f"barrier {name}: the other shard never came")
            time.sleep(0.02)

    settings = load_settings()
    engine = get_engine(settings)
    url = resolve_url(settings)
    plan.mark_risk_work(engine, ids, as_of)
    phases = {}
    barrier("build")
    t0 = time.time()
    dbt_phase.build_marts(engine, settings, url, as_of, ids)
    phases["build"] = [t0, time.time()]
    barrier("risk")
    t0 = time.time()
    risk_phase.run_risk(engine, settings, url, ids, as_of)
    phases["risk"] = [t0, time.time()]
    print(json.dumps({"phases": phases, "spans": spans}))
""")

# every lock a backend of this database is waiting for, and the advisory locks held
SAMPLE = sa.text("""
    select l.pid, l.locktype, l.mode, l.granted, l.classid::bigint as classid,
           l.objid::bigint as objid, l.objsubid, a.wait_event_type, a.wait_event,
           left(a.query, 200) as query
    from pg_locks as l
    join pg_stat_activity as a on a.pid = l.pid
    where l.database = (select oid from pg_database where datname = current_database())
        and (not l.granted or l.locktype = 'advisory')
        and l.pid <> pg_backend_pid()
""")


class LockMonitor(threading.Thread):
    """Samples pg_locks joined with pg_stat_activity every `every_s` until stopped."""

    def __init__(self, engine: sa.Engine, every_s: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.engine, self.every_s = engine, every_s
        self.samples: list[tuple[float, list[dict]]] = []
        self.done = threading.Event()

    def run(self) -> None:
        with self.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            while not self.done.is_set():
                self.samples.append((time.time(), [dict(r) for r in conn.execute(SAMPLE).mappings()]))
                time.sleep(self.every_s)

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=30)

    def waits(self, since: float, until: float) -> list[dict]:
        """The lock requests not granted, in the samples taken in [since, until]."""
        return [row for t, rows in self.samples if since <= t <= until
                for row in rows if not row["granted"]]

    def held_at_once(self, key: tuple[int, int, int], mode: str) -> int:
        """The most backends holding advisory lock `key` (classid, objid, objsubid) in
        `mode` in one sample."""
        return max((len({r["pid"] for r in rows if r["granted"] and r["mode"] == mode
                         and (r["classid"], r["objid"], r["objsubid"]) == key})
                    for _, rows in self.samples), default=0)

    def slots_at_once(self) -> int:
        return max((len({r["objid"] for r in rows if r["granted"] and r["objsubid"] == 2
                         and r["classid"] == DBT_SLOT_LOCK_CLASS})
                    for _, rows in self.samples), default=0)


def ours(row: dict) -> bool:
    """An advisory lock snapfolio takes (snapfolio/core/locks.py)."""
    if row["objsubid"] == 2:
        return row["classid"] in (PORTFOLIO_LOCK_CLASS, RUN_LOCK_CLASS, DBT_SLOT_LOCK_CLASS,
                                  DBT_STAMP_LOCK_CLASS)
    return row["classid"] == 0 and 7_246_000 <= row["objid"] < 7_247_000


def single_key(key: int) -> tuple[int, int, int]:
    return (key >> 32, key & 0xFFFFFFFF, 1)


def shared_ddl_state(db) -> dict:
    """What DDL on the relations every build shares would change: each relation's oid
    and file (a swap or rewrite), the exposure-count triggers and functions' row
    versions (a create or replace)."""
    return {
        "relations": db.rows(
            "select n.nspname, c.relname, c.oid::bigint as oid, c.relfilenode::bigint as node "
            "from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname in ('staging', 'marts', 'marts_store', 'raw_seeds') "
            "and c.relkind in ('r', 'v', 'i') order by 1, 2"),
        "functions": db.rows(
            "select proname, xmin::text as version from pg_proc "
            "where proname like 'fct_position_exposure_vectors_count%' order by 1"),
        "triggers": db.rows(
            "select tgname, xmin::text as version from pg_trigger "
            "where tgrelid = 'marts_store.fct_position_exposure_vectors'::regclass order by 1"),
    }


def run_shards(shards: dict[str, list[int]], barriers: Path, **env: str) -> dict[str, dict]:
    """Each shard's phases in its own process, all at once; their timings."""
    procs = {me: subprocess.Popen(
        [sys.executable, "-c", SHARD, me, json.dumps(part), AS_OF.isoformat(), str(barriers),
         str(len(shards))], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **env}) for me, part in shards.items()}
    out = {}
    for me, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=1200)
        assert proc.returncode == 0, stderr[-4000:]
        out[me] = json.loads(stdout.strip().splitlines()[-1])
    return out


def overlap(a: list[float], b: list[float]) -> float:
    """Seconds both intervals [start, end] cover (negative: the gap between them)."""
    return min(a[1], b[1]) - max(a[0], b[0])


def test_two_shards_build_at_once_without_waiting_and_match_one_build(db, settings, tmp_path):
    names = lag_book(db, settings, tmp_path)
    ids = sorted(r["portfolio_id"] for r in db.rows("select portfolio_id from raw.portfolios"))
    # the run's earlier phases for the whole book, once: both runs below read the same
    # prices and betas
    factors.compute_betas_phase(db.engine, ids, AS_OF)
    single = clone_database(db)
    try:
        shards = {"a": [i for i in ids if i % 2 == 0], "b": [i for i in ids if i % 2 == 1]}
        assert shards["a"] and shards["b"] and len(ids) == len(names)
        barriers = tmp_path / "barriers"
        barriers.mkdir()
        ddl_before = shared_ddl_state(db)
        assert len(ddl_before["functions"]) == 3 and len(ddl_before["triggers"]) == 3
        monitor = LockMonitor(db.engine)
        monitor.start()
        try:
            out = run_shards(shards, barriers)
        finally:
            monitor.stop()

        # the inner intervals (each phase's work, inside every lock it takes) overlap:
        # by more than half of the shorter one (both started at a barrier; a phase that
        # waited for the other's lock would start its work after the other's ended)
        measured = {}
        for kind in ("dbt", "risk"):
            spans = {me: [s for s in out[me]["spans"] if s["kind"] == kind] for me in out}
            assert all(len(s) == 1 for s in spans.values()), spans
            a, b = ([spans[me][0]["start"], spans[me][0]["end"]] for me in ("a", "b"))
            shorter = min(a[1] - a[0], b[1] - b[0])
            measured[kind] = {"a": a, "b": b, "overlap_s": round(overlap(a, b), 2),
                              "shorter_s": round(shorter, 2)}
            assert overlap(a, b) > 0.5 * shorter, measured
            # each in its own slot
            assert spans["a"][0]["slot"] != spans["b"][0]["slot"], spans
        print("measured overlap:", json.dumps(measured))
        print("phases:", json.dumps({me: out[me]["phases"] for me in out}))

        # nobody waited on an advisory lock of ours; two builds held the project lock
        # (shared) and two slots at the same time
        # while the shards' phases ran (a process's start-up migration check, before its
        # first phase, is not a build)
        window = [min(p["build"][0] for p in (o["phases"] for o in out.values())),
                  max(p["risk"][1] for p in (o["phases"] for o in out.values()))]
        waits = monitor.waits(*window)
        advisory = [w for w in waits if w["locktype"] == "advisory" and ours(w)]
        assert advisory == [], [(w["classid"], w["objid"], w["objsubid"], w["mode"], w["query"])
                                for w in advisory]
        other = sorted({(w["locktype"], w["mode"], w["query"][:80]) for w in waits})
        print(f"{len(monitor.samples)} lock samples; other lock waits (row/relation, brief): "
              f"{len(waits)} sample(s) of {other}")
        assert len(monitor.samples) > 20
        assert monitor.held_at_once(single_key(DBT_PROJECT_LOCK_KEY), "ShareLock") == 2
        assert monitor.held_at_once(single_key(DBT_PROJECT_LOCK_KEY), "ExclusiveLock") == 0
        assert monitor.slots_at_once() == 2

        # no build ran DDL on a shared relation: no table swapped or rewritten, no
        # trigger or trigger function of the exposure counts replaced
        assert shared_ddl_state(db) == ddl_before

        # nothing left behind
        assert db.scalar("select count(*) from raw.build_scope") == 0
        assert db.scalar("select count(*) from raw.risk_work") == 0

        # the same book in one process, from the same starting point, the same phases
        (tmp_path / "single").mkdir()
        run_shards({"all": ids}, tmp_path / "single",
                   SNAPFOLIO_DATABASE_URL=single.render_as_string(hide_password=False))
        different = {}
        for schema in ("marts", "marts_store"):
            sharded, reference = marts(db.url, schema), marts(single, schema)
            assert sorted(sharded) == sorted(reference)
            for table in reference:
                try:
                    pd.testing.assert_frame_equal(sharded[table], reference[table], obj=table)
                except AssertionError as exc:
                    different[f"{schema}.{table}"] = str(exc).splitlines()[:3]
            assert {"fct_portfolio_risk", "int_portfolio_drawdowns"} & set(reference)
        assert different == {}
        assert db.scalar("select count(*) from marts.fct_portfolio_snapshots "
                         "where snapshot_date = :d", d=AS_OF) == len(ids)
    finally:
        drop_database(db, single)


def test_builds_share_the_project_lock_and_a_rebuild_waits_for_them(db, settings) -> None:
    fingerprint = "not-the-stored-one"
    with db.engine.begin() as conn:
        conn.execute(sa.text("insert into raw.dbt_state (project_fingerprint) values ('x')"))
    # views not current: exclusive; a second build (shared) times out waiting for it
    with project_lock(db.engine, fingerprint) as current:
        assert current is False
        assert _acquires(db.engine, DBT_PROJECT_LOCK_KEY, shared=True) is False
    # a forced exclusive (full refresh) build blocks the others as well
    with project_lock(db.engine, fingerprint, exclusive=True):
        assert _acquires(db.engine, DBT_PROJECT_LOCK_KEY, shared=True) is False
    # current: shared, so another build gets it at once, and a rebuild waits
    with db.engine.begin() as conn:
        conn.execute(sa.text("update raw.dbt_state set project_fingerprint = :f"), {"f": fingerprint})
    with (mock_views_current(), project_lock(db.engine, fingerprint) as current):
        assert current is True
        assert _acquires(db.engine, DBT_PROJECT_LOCK_KEY, shared=True) is True
        assert _acquires(db.engine, DBT_PROJECT_LOCK_KEY, shared=False) is False
    assert _acquires(db.engine, DBT_PROJECT_LOCK_KEY, shared=False) is True


def test_slots_are_never_shared_and_a_dead_holder_frees_its_slot(db) -> None:
    with build_slot(db.engine) as first, build_slot(db.engine) as second:
        assert (first.name, second.name, second.index) == ("", "s1", 1)
        with build_slot(db.engine) as third:
            assert third.name == "s2"
    # a process that dies holding a slot: its connection goes, and the slot with it
    holder = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    assert holder.execute(sa.text("select pg_try_advisory_lock(:c, 0)"),
                          {"c": DBT_SLOT_LOCK_CLASS}).scalar()
    with build_slot(db.engine) as slot:
        assert slot.name == "s1"
    holder.invalidate()  # the connection is closed, not returned to the pool
    for _ in range(100):  # the server ends the backend (and its locks) just after
        if not db.scalar("select count(*) from pg_locks where locktype = 'advisory' "
                         "and classid = :c and objsubid = 2", c=DBT_SLOT_LOCK_CLASS):
            break
        time.sleep(0.05)
    with build_slot(db.engine) as slot:
        assert slot.name == ""


def test_a_build_stamps_its_start_after_writers_in_flight_and_never_blocks_them(db) -> None:
    """A mark writer holds every slot's stamp key shared until it commits: a build's
    stamp waits for it (so the build sees the mark); a writer never waits for a running
    build, and two builds never wait for each other's stamp."""
    writer = db.engine.connect()
    trans = writer.begin()
    hold_off_dbt_builds(writer)
    stamped: list = []
    thread = threading.Thread(target=lambda: stamped.append(stamp_build_start(db.engine, 3)))
    thread.start()
    time.sleep(0.5)
    assert stamped == []  # waiting for the writer's commit
    committed = writer.execute(sa.text("select clock_timestamp()")).scalar()
    trans.commit()
    writer.close()
    thread.join(timeout=10)
    assert stamped and stamped[0] > committed
    # a build in progress (start stamped) does not hold its stamp key: a writer gets
    # every key at once
    stamp_build_start(db.engine, 0)
    with db.engine.begin() as conn:
        conn.execute(sa.text("set local lock_timeout = '300ms'"))
        hold_off_dbt_builds(conn)
        assert conn.scalar(sa.text(
            "select count(*) from pg_locks where locktype = 'advisory' and granted "
            "and pid = pg_backend_pid() and classid = :c and mode = 'ShareLock'"),
            {"c": DBT_STAMP_LOCK_CLASS}) == DBT_SLOTS
        # while a writer holds them, two builds' stamps in two slots: each waits for
        # the writer only (not for the other), and both stamp after its commit
        stamped.clear()
        builds = [threading.Thread(target=lambda i=i: stamped.append(stamp_build_start(db.engine, i)))
                  for i in (0, 1)]
        for b in builds:
            b.start()
        time.sleep(0.5)
        assert stamped == []
        waiting = conn.scalar(sa.text(
            "select count(*) from pg_locks where locktype = 'advisory' and not granted "
            "and classid = :c"), {"c": DBT_STAMP_LOCK_CLASS})
        assert waiting == 2
    for b in builds:
        b.join(timeout=10)
    assert len(stamped) == 2


@contextmanager
def mock_views_current() -> Iterator[None]:
    """views_and_seeds_current true (no dbt build in these lock tests)."""
    import flows.dbt_runner as runner

    saved = runner.views_and_seeds_current
    runner.views_and_seeds_current = lambda conn, fingerprint: True
    try:
        yield
    finally:
        runner.views_and_seeds_current = saved


def _acquires(engine: sa.Engine, key: int, *, shared: bool) -> bool:
    """Whether the advisory lock is granted within 0.3 s (then let go)."""
    fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("set local lock_timeout = '300ms'"))
            conn.execute(sa.text(f"select {fn}(:k)"), {"k": key})
        return True
    except OperationalError:
        return False
