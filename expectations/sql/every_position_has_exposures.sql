-- every_position_has_exposures
-- Every open position, on every session of the run (portfolios in scope, sessions from
-- `since` through as_of), has a row in marts.fct_position_factor_exposures for every
-- factor of raw_seeds.factor_definitions, with a beta, or else with exposure_status
-- 'unavailable' / 'insufficient_history' and a reason. A missing row is exactly how the
-- old batch left new portfolios without exposures.
-- One row per (portfolio, position, problem), with the factors and sessions affected.
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

factors as (
    select factor from raw_seeds.factor_definitions
),

open_positions as (
    select
        position_values.portfolio_id,
        portfolios.name as portfolio_name,
        position_values.position_id,
        position_values.symbol,
        position_values.snapshot_date
    from marts.fct_position_values as position_values
    inner join portfolios on portfolios.portfolio_id = position_values.portfolio_id
    cross join scope
    where position_values.is_open
        and position_values.snapshot_date <= scope.as_of
        and (scope.since is null or position_values.snapshot_date >= scope.since)
),

checked as (
    select
        open_positions.*,
        factors.factor,
        case
            when exposures.position_id is null then 'no exposure row'
            when exposures.beta is not null then null
            when exposures.exposure_status is null
                or exposures.exposure_status not in ('unavailable', 'insufficient_history')
                then 'no beta and exposure_status ' || coalesce(exposures.exposure_status, 'null')
            when exposures.exposure_reason is null then 'no beta and no exposure_reason'
        end as problem
    from open_positions
    cross join factors
    left join marts.fct_position_factor_exposures as exposures
        on exposures.portfolio_id = open_positions.portfolio_id
        and exposures.position_id = open_positions.position_id
        and exposures.snapshot_date = open_positions.snapshot_date
        and exposures.factor = factors.factor
),

final as (
    select
        portfolio_id,
        portfolio_name,
        position_id,
        symbol,
        problem,
        count(*) as n,
        count(distinct snapshot_date) as sessions,
        min(snapshot_date) as first_date,
        max(snapshot_date) as last_date,
        string_agg(distinct factor, ', ') as factors
    from checked
    where problem is not null
    group by portfolio_id, portfolio_name, position_id, symbol, problem
)

select
    final.*,
    format(
        'portfolio %s: %s (position %s) %s for %s row(s) on %s session(s) %s..%s (factors: %s)',
        portfolio_name, symbol, position_id, problem, n, sessions, first_date, last_date, factors
    ) as detail
from final
order by portfolio_name, symbol, position_id, problem
