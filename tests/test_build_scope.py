"""Run-scoped build state: each dbt invocation has its own raw.build_scope row (keyed by
a build id its connections carry), so two builds of disjoint portfolios can run at the
same time (in different slots: their own intermediate schema and target directory)
without reading each other's scope; rows are deleted after the build, and rows of a
dead process are dropped by the run reconciliation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import date

import batch_helpers
import pytest
import sqlalchemy as sa

from flows.dbt_runner import build_scope, drop_dead_build_scopes, write_build_scope
from flows.run_history import reconcile_stale_runs
from snapfolio.core import calendar

HEADER = ("Symbol,Quantity,Entry Price Per Share,Entry Date,Investment Class,Investment Subtype,"
          "Underlying Symbol,Strike Price,Expiration Date,Option Type,Exit Date,Exit Price Per Share")
KEPT_THROUGH = date(2025, 1, 24)
AS_OF = {"a": date(2025, 2, 4), "b": date(2025, 2, 7)}

# One build in its own process (dbt runs one invocation per process): write its own
# scope row, wait until the other build's row exists too (so both scopes are live while
# both build), then `dbt build` the models in its slot.
BUILD = textwrap.dedent("""
    import json, sys, time
    from datetime import date
    import sqlalchemy as sa
    from flows.dbt_runner import build_scope, dbt_build
    from snapfolio.core.database import get_engine, resolve_url
    from snapfolio.core.settings import load_settings

    slot, as_of, pid = sys.argv[1], date.fromisoformat(sys.argv[2]), int(sys.argv[3])
    settings = load_settings()
    engine = get_engine(settings)
    with build_scope(engine, as_of, [pid]) as build_id:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if conn.scalar(sa.text("select count(*) from raw.build_scope")) >= 2:
                    break
            time.sleep(0.2)
        with engine.connect() as conn:
            started = conn.scalar(sa.text("select clock_timestamp()"))
            live = conn.scalar(sa.text("select count(*) from raw.build_scope"))
        result = dbt_build(settings, resolve_url(settings), models_only=True,
                           exclude=["tag:risk"], build_id=build_id, slot=slot)
        with engine.connect() as conn:
            finished = conn.scalar(sa.text("select clock_timestamp()"))
    print(json.dumps({"started": started.isoformat(), "finished": finished.isoformat(),
                      "live_scopes": live, "nodes": result.nodes}))
""")


def _portfolio(db, tmp_path, name: str, symbols: list[str]) -> int:
    path = tmp_path / f"{name}.csv"
    path.write_text("\n".join([HEADER] + [f"{s},100,50,2025-01-02,PUBLIC,STOCK,,,,,,"
                                          for s in symbols]) + "\n")
    return batch_helpers.store_file(db.engine, path, name).portfolio_id


def test_scope_rows_are_per_build_and_dead_ones_are_dropped(db) -> None:
    with build_scope(db.engine, date(2025, 2, 7), [1]) as first:
        with build_scope(db.engine, date(2025, 2, 4), None) as second:
            rows = {r["build_id"]: (r["as_of"], r["portfolio_ids"], r["pid"]) for r in db.rows(
                "select build_id, as_of, portfolio_ids, pid from raw.build_scope")}
            assert rows == {first: (date(2025, 2, 7), [1], os.getpid()),
                            second: (date(2025, 2, 4), None, os.getpid())}
        assert db.scalar("select count(*) from raw.build_scope") == 1
    assert db.scalar("select count(*) from raw.build_scope") == 0
    with pytest.raises(RuntimeError), build_scope(db.engine, date(2025, 2, 7), None):
        raise RuntimeError("a failed build")
    assert db.scalar("select count(*) from raw.build_scope") == 0  # deleted on error too

    # left behind by a process that died mid-build, by an old one, and a live one
    with db.engine.begin() as conn:
        dead = write_build_scope(conn, date(2025, 2, 7), None)
        old = write_build_scope(conn, date(2025, 2, 7), None)
        live = write_build_scope(conn, date(2025, 2, 7), None)
        conn.execute(sa.text("update raw.build_scope set pid = -1 where build_id = :b"), {"b": dead})
        conn.execute(sa.text("update raw.build_scope set hostname = 'elsewhere', "
                             "created_at = now() - interval '2 days' where build_id = :b"),
                     {"b": old})
    with db.engine.begin() as conn:
        assert drop_dead_build_scopes(conn, lambda pid: pid == os.getpid()) == 2
    assert db.rows("select build_id from raw.build_scope") == [{"build_id": live}]
    with db.engine.begin() as conn:
        conn.execute(sa.text("update raw.build_scope set pid = 2147483646"))
    reconcile_stale_runs(db.engine)  # the run reconciliation drops them
    assert db.scalar("select count(*) from raw.build_scope") == 0


@pytest.fixture
def slot_schemas(db):
    """The slots' intermediate schemas are not among the ones `db` drops: drop them."""
    yield
    with db.engine.begin() as conn:
        for slot in AS_OF:
            conn.execute(sa.text(f"drop schema if exists intermediate_{slot} cascade"))


def test_two_builds_of_disjoint_portfolios_run_at_once_each_in_its_own_scope(
        db, settings, tmp_path, slot_schemas) -> None:
    ids = {"a": _portfolio(db, tmp_path, "scope_a", ["AAPL", "MSFT"]),
           "b": _portfolio(db, tmp_path, "scope_b", ["KO", "PG", "XOM"])}
    batch_helpers.run_batch(db.engine, settings, db.url, as_of=AS_OF["b"])
    with db.engine.begin() as conn:  # both lose their sessions after KEPT_THROUGH
        for mart in ("fct_portfolio_snapshots", "fct_position_values",
                     "fct_position_factor_exposures", "fct_portfolio_factor_exposures"):
            conn.execute(sa.text(f"delete from marts.{mart} where snapshot_date > :d"),
                         {"d": KEPT_THROUGH})

    procs = {slot: subprocess.Popen(
        [sys.executable, "-c", BUILD, slot, AS_OF[slot].isoformat(), str(ids[slot])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
        for slot in ("a", "b")}
    out = {}
    for slot, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=900)
        assert proc.returncode == 0, stderr[-3000:]
        out[slot] = json.loads(stdout.strip().splitlines()[-1])
    for slot in out:
        assert out[slot]["live_scopes"] == 2  # both scopes were live during both builds
        assert set(out[slot]["nodes"].values()) <= {"success", "pass"}, out[slot]["nodes"]
    # the builds ran at the same time
    assert out["a"]["started"] < out["b"]["finished"] and out["b"]["started"] < out["a"]["finished"]
    assert db.scalar("select count(*) from raw.build_scope") == 0

    for slot, pid in ids.items():
        # each built its own portfolio through its own as_of, in its own schema
        work = db.rows(f"select distinct portfolio_id from intermediate_{slot}."
                       "int_portfolio_work_sessions")
        assert work == [{"portfolio_id": pid}]
        dates = [r["snapshot_date"] for r in db.rows(
            "select snapshot_date from marts.fct_portfolio_snapshots where portfolio_id = :p "
            "and snapshot_date > :d order by 1", p=pid, d=KEPT_THROUGH)]
        assert dates == calendar.sessions_between(calendar.next_session(KEPT_THROUGH), AS_OF[slot])
        assert db.scalar("select bool_and(is_complete) from marts.fct_portfolio_snapshots "
                         "where portfolio_id = :p", p=pid) is True
