"""Scale-out (DESIGN "Scale-out"): a local Prefect server, a process work pool and two
`snapfolio worker` subprocesses; `snapfolio run --shards 2` on the 13-portfolio lag
scenario gives marts identical, row by row, to a single-process run of the same book;
each worker ran one shard and no portfolio was in two shards. A shard that fails is
named, exits 1, and its portfolios (still behind) are filled by the next run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import batch_helpers
import httpx
import pandas as pd
import sqlalchemy as sa
from test_lag_scenario import store_lag_book

AS_OF = "2025-03-07"
POOL = f"test-{uuid.uuid4().hex[:6]}"


def cli_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "SNAPFOLIO_PRICE_PROVIDER": "synthetic", **extra}
    env.pop("SNAPFOLIO_FAULT", None)
    env.update(extra)
    return env


@contextmanager
def worker(name: str, logs: Path, **env: str) -> Iterator[subprocess.Popen]:
    """`snapfolio worker` as a subprocess (its output in logs/NAME.log), one run at a
    time, so two shards go to two workers. Polling every second (Prefect's default is
    10 s): a shard now builds in a few seconds without waiting for the other's build,
    so with the default the first worker could finish its shard and take the second
    before the other worker polled again."""
    with (logs / f"{name}.log").open("a") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "snapfolio", "worker", "--pool", POOL, "--name", name,
             "--limit", "1"], env=cli_env(PREFECT_WORKER_QUERY_SECONDS="1", **env),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)


def wait_for_workers(api: str, names: set[str]) -> None:
    with httpx.Client(base_url=api, timeout=10) as client:
        for _ in range(240):
            resp = client.post(f"/work_pools/{POOL}/workers/filter", json={})
            if resp.status_code == 200 and names <= {w["name"] for w in resp.json()}:
                return
            time.sleep(0.5)
    raise AssertionError(f"workers {names} never polled pool {POOL}")


def worker_logs(logs: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(logs.glob("*.log")))


def run_shards(env: dict[str, str] | None = None) -> tuple[int, list[dict], str]:
    proc = subprocess.run([sys.executable, "-m", "snapfolio", "run", "--shards", "2",
                           "--pool", POOL, "--as-of", AS_OF, "--json"],
                          env=env or cli_env(), capture_output=True, text=True, timeout=900,
                          check=False)
    return proc.returncode, json.loads(proc.stdout or "[]"), proc.stderr


def lag_book(db, settings, tmp_path) -> list[str]:
    """The lag scenario's 13 portfolios at three different watermarks."""
    names = store_lag_book(db.engine, tmp_path)
    run = batch_helpers.run_batch
    run(db.engine, settings, db.url, as_of=date(2025, 3, 3))
    run(db.engine, settings, db.url, as_of=date(2025, 3, 4), portfolio_names=[names[0]])
    run(db.engine, settings, db.url, as_of=date(2025, 3, 5), portfolio_names=[names[1]])
    # the synthetic provider anchors a symbol on the entry prices of the run's scope, so
    # a shard would be served other closes than the whole book: fetch them once for the
    # whole book (the prices phase itself), and both runs below read the same inputs
    ids = sorted(r["portfolio_id"] for r in db.rows("select portfolio_id from raw.portfolios"))
    batch_helpers.ingest_prices(db.engine, settings, ids, date.fromisoformat(AS_OF))
    return names


def clone_database(db) -> sa.engine.URL:
    """A copy of the test database as it is now (CREATE DATABASE ... TEMPLATE)."""
    clone = db.url.set(database=f"{db.url.database}_single")
    db.engine.dispose()
    admin = sa.create_engine(db.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("select pg_terminate_backend(pid) from pg_stat_activity "
                             "where datname = :d and pid <> pg_backend_pid()"),
                     {"d": db.url.database})
        conn.execute(sa.text(f'drop database if exists "{clone.database}"'))
        conn.execute(sa.text(f'create database "{clone.database}" template "{db.url.database}"'))
    admin.dispose()
    return clone


def drop_database(db, url: sa.engine.URL) -> None:
    admin = sa.create_engine(db.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{url.database}" with (force)'))
    admin.dispose()


def marts(url: sa.engine.URL, schema: str = "marts") -> dict[str, pd.DataFrame]:
    """Every table of `schema`, timestamp columns (build times) left out, sorted by every
    column."""
    engine = sa.create_engine(url)
    out = {}
    try:
        with engine.connect() as conn:
            columns: dict[str, list[str]] = {}
            for table, column in conn.execute(sa.text(
                    "select c.table_name, c.column_name from information_schema.columns c "
                    "join information_schema.tables t using (table_schema, table_name) "
                    "where c.table_schema = :s and t.table_type = 'BASE TABLE' "
                    "and c.data_type not like 'timestamp%' order by c.table_name, "
                    "c.ordinal_position"), {"s": schema}):
                columns.setdefault(table, []).append(column)
            for table, cols in columns.items():
                listed = ", ".join(f'"{c}"' for c in cols)
                out[table] = pd.DataFrame(conn.execute(sa.text(
                    f"select {listed} from {schema}.{table} order by {listed}")).all(), columns=cols)
    finally:
        engine.dispose()
    return out


def test_two_workers_two_shards_match_a_single_process_run(db, settings, prefect_api, tmp_path):
    names = lag_book(db, settings, tmp_path)
    assert len(names) == 13
    single = clone_database(db)
    try:
        with (worker("worker-a", tmp_path),
              worker("worker-b", tmp_path, SNAPFOLIO_FAULT="fail:dbt")):
            wait_for_workers(prefect_api, {"worker-a", "worker-b"})
            # worker-b fails its shard before the build: named, exit 1, portfolios left behind
            code, results, stderr = run_shards()
            assert code == 1, stderr + worker_logs(tmp_path)
            failed = [r for r in results if r["state"] != "COMPLETED"]
            assert [r["worker"] for r in failed] == ["worker-b"], results
            assert f"shard {failed[0]['shard']}" in stderr and "retried by the next run" in stderr
            behind = set(failed[0]["portfolios"])
            current = {r["name"] for r in db.rows(
                "select p.name from marts.portfolio_watermarks w join raw.portfolios p "
                "using (portfolio_id) where w.last_complete_date = :a and w.missing_sessions = 0",
                a=date.fromisoformat(AS_OF))}
            assert not (behind & current) and current == set(names) - behind
        with worker("worker-a", tmp_path), worker("worker-b", tmp_path):
            wait_for_workers(prefect_api, {"worker-a", "worker-b"})
            code, results, stderr = run_shards()
        assert code == 0, stderr + worker_logs(tmp_path)
        assert [r["state"] for r in results] == ["COMPLETED", "COMPLETED"], results
        assert {r["worker"] for r in results} == {"worker-a", "worker-b"}
        shards = [set(r["portfolios"]) for r in results]
        assert not (shards[0] & shards[1]) and shards[0] | shards[1] == set(names)
        ids = {r["name"]: r["portfolio_id"] for r in db.rows(
            "select name, portfolio_id from raw.portfolios")}
        for r in results:
            assert {ids[n] % 2 for n in r["portfolios"]} == {r["shard"] - 1}
        # the Prefect API agrees: each child ran on its worker, under the parent run
        with httpx.Client(base_url=prefect_api, timeout=10) as client:
            for r in results:
                run = client.get(f"/flow_runs/{r['flow_run_id']}").json()
                assert run["labels"]["prefect.worker.name"] == r["worker"]
                assert run["work_pool_name"] == POOL and run["parent_task_run_id"]
        # the same book in one process, from the same starting point
        proc = subprocess.run([sys.executable, "-m", "snapfolio", "run", "--as-of", AS_OF],
                              env=cli_env(SNAPFOLIO_DATABASE_URL=single.render_as_string(
                                  hide_password=False)),
                              capture_output=True, text=True, timeout=900, check=False)
        assert proc.returncode == 0, proc.stderr
        raw_a, raw_b = marts(db.url, "raw"), marts(single, "raw")
        for table in ("prices", "symbol_factor_betas"):
            pd.testing.assert_frame_equal(raw_a[table], raw_b[table], obj=f"raw.{table}")
        sharded, reference = marts(db.url), marts(single)
        assert sorted(sharded) == sorted(reference) and "fct_position_values" in sharded
        different = {}
        for table in reference:
            try:
                pd.testing.assert_frame_equal(sharded[table], reference[table], obj=table)
            except AssertionError as exc:
                different[table] = str(exc).splitlines()[0:2] + str(exc).splitlines()[-1:]
        assert different == {}
    finally:
        drop_database(db, single)


def test_shard_count_out_of_range_is_bad_usage():
    for n in ("0", "1001"):
        proc = subprocess.run([sys.executable, "-m", "snapfolio", "run", "--shards", n],
                              env=cli_env(), capture_output=True, text=True, timeout=120,
                              check=False)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().splitlines() == [f"error: --shards: expected 1 to 1000, got {n}"]


def test_shard_scopes_are_disjoint_and_keyed_by_id_mod_n():
    from flows.shards import shard_scopes

    book = {f"p{i}": i for i in (3, 1, 4, 15, 9, 2, 6, 5, 35, 8)}
    for n in (1, 2, 3, 7, 20):
        scopes = shard_scopes(book, n)
        assert len(scopes) == n
        for k in range(n):  # a plain filter per shard
            assert scopes[k] == [name for name, i in sorted(book.items(), key=lambda x: x[1])
                                 if i % n == k]
        flat = [name for scope in scopes for name in scope]
        assert sorted(flat) == sorted(book) and len(flat) == len(set(flat))
