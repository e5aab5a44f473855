{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['portfolio_id', 'snapshot_date'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['portfolio_id', 'snapshot_date', 'factor'], 'unique': true},
        ],
        post_hook=["{{ analyze_mart() }}"],
    )
}}
{#- One row per portfolio x factor x work session: beta = Σ(market value × beta) / equity
    over the open positions that have a beta; dollar_exposure = beta × equity (computed
    as Σ MV × beta, the same number, defined even if equity were 0). Equity comes from
    this build's snapshots, read for the work set only. A session with no open position
    still gets its rows (beta 0). Summed straight from the build's factor vectors (one
    row per position x session, int_position_factor_exposures), never from long rows. -#}

with position_exposures as (
    select * from {{ ref('int_position_factor_exposures') }}
),

work_sessions as (
    select * from {{ ref('int_portfolio_work_sessions') }}
),

snapshots as (
    select * from {{ ref('fct_portfolio_snapshots') }}
),

factor_definitions as (
    select * from {{ ref('factor_definitions') }}
),

work_snapshots as (
    select
        snapshots.portfolio_id,
        snapshots.snapshot_date,
        snapshots.equity
    from work_sessions
    inner join snapshots
        on snapshots.portfolio_id = work_sessions.portfolio_id
        and snapshots.snapshot_date = work_sessions.snapshot_date
),

factor_order as (
    {{ factor_order('factor_definitions') }}
),

aggregated as (
    -- each vector unnested in place (factor i = its position in the vector), grouped
    -- on the integer position; the factor names are joined to the ~12 x sessions sums
    select
        position_exposures.portfolio_id,
        position_exposures.snapshot_date,
        factor_betas.factor_index,
        sum(position_exposures.market_value * factor_betas.beta) as beta_weighted_value,
        count(factor_betas.beta) as positions_with_beta,
        count(*) - count(factor_betas.beta) as positions_without_beta
    from position_exposures
    cross join
        lateral unnest(position_exposures.betas)
        with ordinality as factor_betas (beta, factor_index)
    group by
        position_exposures.portfolio_id,
        position_exposures.snapshot_date,
        factor_betas.factor_index
),

final as (
    select
        cast(work_snapshots.portfolio_id as bigint) as portfolio_id,
        cast(work_snapshots.snapshot_date as date) as snapshot_date,
        cast(factor_order.factor as text) as factor,
        cast(
            coalesce(aggregated.beta_weighted_value, 0) / nullif(work_snapshots.equity, 0)
            as double precision
        ) as beta,
        cast(coalesce(aggregated.beta_weighted_value, 0) as double precision) as dollar_exposure,
        cast(work_snapshots.equity as double precision) as equity,
        cast(coalesce(aggregated.positions_with_beta, 0) as integer) as positions_with_beta,
        cast(coalesce(aggregated.positions_without_beta, 0) as integer) as positions_without_beta
    from work_snapshots
    cross join factor_order
    left join aggregated
        on aggregated.portfolio_id = work_snapshots.portfolio_id
        and aggregated.snapshot_date = work_snapshots.snapshot_date
        and aggregated.factor_index = factor_order.factor_index
)

select * from final
