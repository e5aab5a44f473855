-- equity_identity
-- equity = initial_equity (raw.portfolios) + cumulative_pnl and cash = equity - net_exposure
-- on every snapshot, within 1e-6 relative: catches equity updated without its snapshot
-- (the old batch's split transaction) and any drift in the accounting.
-- Sessions from the run's `since` on (all of them when it is null): a run never
-- changes the snapshots before it, and `snapfolio check` reads the whole history.
-- One row per (portfolio, identity broken), with the first session and the worst gap.
with scope as not materialized (
    -- the alias is GX's contract (expectations/checks.py), not used here
    select * from {batch} as run_scope  -- noqa: AL05
),

portfolios as (
    select
        portfolios.portfolio_id,
        portfolios.name,
        cast(portfolios.initial_equity as double precision) as initial_equity
    from raw.portfolios as portfolios
    cross join scope
    where portfolios.active
        and (scope.portfolio_ids is null or portfolios.portfolio_id = any(scope.portfolio_ids))
),

snapshots as (
    select snapshots.*
    from marts.fct_portfolio_snapshots as snapshots
    inner join portfolios on portfolios.portfolio_id = snapshots.portfolio_id
    cross join scope
    where scope.since is null or snapshots.snapshot_date >= scope.since
),

identities as (
    select
        snapshots.portfolio_id,
        portfolios.name as portfolio_name,
        snapshots.snapshot_date,
        'equity != initial_equity + cumulative_pnl' as problem,
        snapshots.equity as actual,
        portfolios.initial_equity + snapshots.cumulative_pnl as expected,
        greatest(abs(portfolios.initial_equity + snapshots.cumulative_pnl), 1.0) as scale
    from snapshots
    inner join portfolios on portfolios.portfolio_id = snapshots.portfolio_id
    union all
    select
        snapshots.portfolio_id,
        portfolios.name,
        snapshots.snapshot_date,
        'cash != equity - net_exposure' as problem,
        snapshots.cash as actual,
        snapshots.equity - snapshots.net_exposure as expected,
        greatest(abs(snapshots.equity), abs(snapshots.net_exposure), 1.0) as scale
    from snapshots
    inner join portfolios on portfolios.portfolio_id = snapshots.portfolio_id
),

broken as (
    select *, abs(actual - expected) / scale as relative_error
    from identities
    where not (abs(actual - expected) <= 1e-6 * scale)  -- also true for NaN and nulls
        or actual is null
        or expected is null
),

final as (
    select
        portfolio_id,
        portfolio_name,
        problem,
        count(*) as n,
        min(snapshot_date) as first_date,
        max(snapshot_date) as last_date,
        max(relative_error) as worst_relative_error
    from broken
    group by portfolio_id, portfolio_name, problem
)

select
    final.*,
    format(
        'portfolio %s: %s on %s session(s) %s..%s (worst relative error %s)',
        portfolio_name, problem, n, first_date, last_date, worst_relative_error
    ) as detail
from final
order by portfolio_name, problem
