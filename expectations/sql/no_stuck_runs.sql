-- no_stuck_runs
-- No run other than the current one is left with status 'running' while no process
-- holds it: the old batch's in-memory "running" flag stayed stuck after a crash and
-- blocked every later run. A live run holds its advisory lock (class 7247, hashtext of
-- the run id; see flows/locks.py), so concurrent runs are not flagged; a row without
-- that lock is stuck (rows of dead processes are reconciled to 'crashed' at the start of
-- every run, so one still here is a bug). One row per such run.
with scope as not materialized (
    -- the alias is GX's contract (expectations/checks.py), not used here
    select * from {batch} as run_scope  -- noqa: AL05
)

select
    runs.run_id,
    runs.kind,
    runs.phase,
    runs.started_at,
    runs.heartbeat_at,
    1 as n,
    format(
        'run %s (%s, phase %s) still running: started %s, last heartbeat %s',
        runs.run_id, runs.kind, coalesce(runs.phase, 'none'),
        date_trunc('second', runs.started_at), date_trunc('second', runs.heartbeat_at)
    ) as detail
from raw.batch_runs as runs
cross join scope
where runs.status = 'running'
    and (scope.current_run_id is null or runs.run_id <> scope.current_run_id)
    and not exists (
        select 1
        from pg_locks as advisory_locks
        where advisory_locks.locktype = 'advisory'
            and advisory_locks.granted
            and advisory_locks.database = (
                select pg_database.oid from pg_database
                where pg_database.datname = current_database()
            )
            and advisory_locks.classid = 7247
            and advisory_locks.objid = hashtext(runs.run_id)::oid
            and advisory_locks.objsubid = 2
    )
order by runs.started_at
