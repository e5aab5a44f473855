-- every_position_has_exposures
-- Every open position, on every session of the run (portfolios in scope, sessions from
-- `since` through as_of), has a row in marts.fct_position_factor_exposures for every
-- factor of raw_seeds.factor_definitions, with a beta, or else with exposure_status
-- 'unavailable' / 'insufficient_history' and a reason. A missing row is exactly how the
-- old batch left new portfolios without exposures.
-- One row per (portfolio, position, problem), with the factors and sessions affected.
-- Read from the exposure store (one vector row per position and session, the long form
-- is a view over it): each open position-session of the run's scope is joined to its
-- vector row; a full vector (a beta for every factor) passes as a whole, only the others
-- are expanded by factor, and only the factors without a beta (unavailable,
-- insufficient history: few) are looked up in the long-form view for their status and
-- reason.
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

factor_order as (
    -- the vectors' factor order (dbt macro factor_order): by name, byte order
    select factor, cast(row_number() over (order by factor collate "C") as integer) as factor_index
    from factors
),

position_vectors as (
    select
        open_positions.*,
        vectors.position_id is not null as has_vector,
        vectors.betas,
        vectors.deleted_factors
    from open_positions
    left join marts_store.fct_position_exposure_vectors as vectors
        on vectors.portfolio_id = open_positions.portfolio_id
        and vectors.snapshot_date = open_positions.snapshot_date
        and vectors.position_id = open_positions.position_id
),

suspects as (
    -- a vector with a beta for every factor and none deleted has every row, each with a
    -- beta: only the others (no vector, a short or holed vector, a missing beta) are
    -- looked at factor by factor, so a backfill's millions of full vectors are one pass
    select position_vectors.*
    from position_vectors
    where
        not (
            position_vectors.has_vector
            and cardinality(position_vectors.betas) = (select count(*) from factors)
            and array_position(position_vectors.betas, null) is null
            and coalesce(cardinality(position_vectors.deleted_factors), 0) = 0
        )
),

position_factors as (
    select
        suspects.portfolio_id,
        suspects.portfolio_name,
        suspects.position_id,
        suspects.symbol,
        suspects.snapshot_date,
        factor_order.factor,
        suspects.has_vector
        and factor_order.factor_index <= cardinality(suspects.betas)
        and not coalesce(factor_order.factor_index = any(suspects.deleted_factors), false)
            as has_row,
        suspects.betas[factor_order.factor_index] is not null as has_beta
    from suspects
    cross join factor_order
),

checked as (
    -- the few present rows without a beta: their status and reason as the contract (the
    -- long-form view) shows them, one index probe each (a lateral lookup, not a join of
    -- two large sets whose misestimated sizes once made the planner loop over both)
    select
        position_factors.portfolio_id,
        position_factors.portfolio_name,
        position_factors.position_id,
        position_factors.symbol,
        position_factors.snapshot_date,
        position_factors.factor,
        case
            when not position_factors.has_row then 'no exposure row'
            when position_factors.has_beta then null
            when without_beta.exposure_status is null
                or without_beta.exposure_status not in ('unavailable', 'insufficient_history')
                then 'no beta and exposure_status ' || coalesce(without_beta.exposure_status, 'null')
            when without_beta.exposure_reason is null then 'no beta and no exposure_reason'
        end as problem
    from position_factors
    left join lateral (
        select
            exposures.exposure_status,
            exposures.exposure_reason
        from marts.fct_position_factor_exposures as exposures
        where position_factors.has_row
            and not position_factors.has_beta
            and exposures.portfolio_id = position_factors.portfolio_id
            and exposures.position_id = position_factors.position_id
            and exposures.snapshot_date = position_factors.snapshot_date
            and exposures.factor = position_factors.factor
        -- the key is unique; the limit keeps the planner from flattening the probe into
        -- a hash join over the whole long-form view (38 M rows at 1,000 portfolios)
        limit 1  -- noqa: AM09
    ) as without_beta on true
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
