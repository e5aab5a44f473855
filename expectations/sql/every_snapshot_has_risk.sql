-- every_snapshot_has_risk
-- Every snapshot of marts.fct_portfolio_snapshots (portfolios in scope, sessions from
-- `since` through as_of) has its row in marts.fct_portfolio_risk: a missing risk row is a
-- gap, exactly like a missing snapshot, and the next run must fill it.
-- One row per portfolio, with the sessions affected.
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

missing as (
    select
        snapshots.portfolio_id,
        portfolios.name as portfolio_name,
        snapshots.snapshot_date
    from marts.fct_portfolio_snapshots as snapshots
    inner join portfolios on portfolios.portfolio_id = snapshots.portfolio_id
    cross join scope
    where snapshots.snapshot_date <= scope.as_of
        and (scope.since is null or snapshots.snapshot_date >= scope.since)
        and not exists (
            select 1
            from marts.fct_portfolio_risk as risk
            where risk.portfolio_id = snapshots.portfolio_id
                and risk.snapshot_date = snapshots.snapshot_date
        )
),

final as (
    select
        portfolio_id,
        portfolio_name,
        count(*) as n,
        min(snapshot_date) as first_date,
        max(snapshot_date) as last_date
    from missing
    group by portfolio_id, portfolio_name
)

select
    final.*,
    format(
        'portfolio %s: no fct_portfolio_risk row for %s snapshot(s) %s..%s',
        portfolio_name, n, first_date, last_date
    ) as detail
from final
order by portfolio_name
