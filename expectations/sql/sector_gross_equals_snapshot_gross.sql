-- sector_gross_equals_snapshot_gross
-- On every snapshot in scope (sessions from `since` through as_of), the gross exposures
-- of marts.fct_portfolio_sector_exposures add up to the snapshot's gross_exposure,
-- within 1e-6 relative (absolute when the gross is about 0). A snapshot with open value
-- but no sector row at all counts as a sum of 0.
-- One row per portfolio, with the sessions affected and the worst gap.
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

snapshots as (
    select
        snapshots.portfolio_id,
        portfolios.name as portfolio_name,
        snapshots.snapshot_date,
        cast(snapshots.gross_exposure as double precision) as gross_exposure
    from marts.fct_portfolio_snapshots as snapshots
    inner join portfolios on portfolios.portfolio_id = snapshots.portfolio_id
    cross join scope
    where snapshots.snapshot_date <= scope.as_of
        and (scope.since is null or snapshots.snapshot_date >= scope.since)
),

sector_sums as (
    select
        sectors.portfolio_id,
        sectors.snapshot_date,
        sum(sectors.gross_exposure) as sector_gross
    from marts.fct_portfolio_sector_exposures as sectors
    inner join portfolios on portfolios.portfolio_id = sectors.portfolio_id
    cross join scope
    where sectors.snapshot_date <= scope.as_of
        and (scope.since is null or sectors.snapshot_date >= scope.since)
    group by sectors.portfolio_id, sectors.snapshot_date
),

compared as (
    select
        snapshots.*,
        coalesce(sector_sums.sector_gross, 0) as sector_gross,
        greatest(abs(snapshots.gross_exposure), 1.0) as scale
    from snapshots
    left join sector_sums
        on sector_sums.portfolio_id = snapshots.portfolio_id
        and sector_sums.snapshot_date = snapshots.snapshot_date
),

broken as (
    select *, abs(sector_gross - gross_exposure) / scale as relative_error
    from compared
    -- also true for NaN and nulls
    where not (abs(sector_gross - gross_exposure) <= 1e-6 * scale) or gross_exposure is null
),

final as (
    select
        portfolio_id,
        portfolio_name,
        count(*) as n,
        min(snapshot_date) as first_date,
        max(snapshot_date) as last_date,
        max(relative_error) as worst_relative_error
    from broken
    group by portfolio_id, portfolio_name
)

select
    final.*,
    format(
        'portfolio %s: sector gross exposures do not sum to the snapshot gross_exposure on '
        '%s session(s) %s..%s (worst relative error %s)',
        portfolio_name, n, first_date, last_date, worst_relative_error
    ) as detail
from final
order by portfolio_name
