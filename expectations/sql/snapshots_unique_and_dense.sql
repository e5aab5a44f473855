-- snapshots_unique_and_dense
-- One snapshot per (portfolio_id, snapshot_date), each on a NYSE session, and no session
-- missing between a portfolio's first and last snapshot: the old batch silently skipped
-- snapshots while equity moved on.
-- From the run's `since` on when it is given (plus the session before it, so the join
-- with the earlier history is checked too), else everything (`snapfolio check`).
-- One row per (portfolio, problem), with the count and the first dates affected.
with scope as not materialized (
    -- the alias is GX's contract (expectations/checks.py), not used here
    select * from {batch} as run_scope  -- noqa: AL05
),

portfolios as (
    select portfolios.portfolio_id, portfolios.name
    from raw.portfolios as portfolios
    cross join scope
    where portfolios.active
        and (scope.portfolio_ids is null or portfolios.portfolio_id = any(scope.portfolio_ids))
),

window_start as (
    select max(sessions.session_date) as first_date
    from raw.trading_sessions as sessions
    cross join scope
    where sessions.session_date < scope.since
),

snapshots as (
    select snapshots.portfolio_id, snapshots.snapshot_date
    from marts.fct_portfolio_snapshots as snapshots
    inner join portfolios on portfolios.portfolio_id = snapshots.portfolio_id
    cross join scope
    cross join window_start
    where scope.since is null
        or snapshots.snapshot_date >= coalesce(window_start.first_date, scope.since)
),

duplicates as (
    select portfolio_id, snapshot_date, 'duplicate snapshot' as problem
    from snapshots
    group by portfolio_id, snapshot_date
    having count(*) > 1
),

not_sessions as (
    select snapshots.portfolio_id, snapshots.snapshot_date, 'snapshot on a non-session date' as problem
    from snapshots
    left join raw.trading_sessions as sessions on sessions.session_date = snapshots.snapshot_date
    where sessions.session_date is null
),

bounds as (
    select
        snapshots.portfolio_id,
        (
            select min(all_snapshots.snapshot_date)
            from marts.fct_portfolio_snapshots as all_snapshots
            where all_snapshots.portfolio_id = snapshots.portfolio_id
        ) as first_date,
        max(snapshots.snapshot_date) as last_date
    from snapshots
    group by snapshots.portfolio_id
),

holes as (
    select bounds.portfolio_id, sessions.session_date as snapshot_date, 'missing session' as problem
    from bounds
    cross join window_start
    inner join raw.trading_sessions as sessions
        on sessions.session_date > bounds.first_date
        and sessions.session_date < bounds.last_date
        and (window_start.first_date is null or sessions.session_date >= window_start.first_date)
    left join snapshots
        on snapshots.portfolio_id = bounds.portfolio_id
        and snapshots.snapshot_date = sessions.session_date
    where snapshots.portfolio_id is null
),

problems as (
    select * from duplicates
    union all
    select * from not_sessions
    union all
    select * from holes
),

ranked as (
    select
        problems.*,
        row_number() over (
            partition by problems.portfolio_id, problems.problem order by problems.snapshot_date
        ) as rank_in_problem
    from problems
),

final as (
    select
        ranked.portfolio_id,
        portfolios.name as portfolio_name,
        ranked.problem,
        count(*) as n,
        string_agg(cast(ranked.snapshot_date as text), ', ' order by ranked.snapshot_date)
        filter (where ranked.rank_in_problem <= 5) as dates
    from ranked
    inner join portfolios on portfolios.portfolio_id = ranked.portfolio_id
    group by ranked.portfolio_id, portfolios.name, ranked.problem
)

select
    final.*,
    format(
        'portfolio %s: %s %s(s): %s%s',
        portfolio_name, n, problem, dates, case when n > 5 then ', ...' else '' end
    ) as detail
from final
order by portfolio_name, problem
