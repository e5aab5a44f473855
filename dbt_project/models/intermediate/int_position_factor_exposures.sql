{{ config(materialized='table', unlogged=true) }}
{#- One row per open position x factor x work session (int_position_values holds exactly
    this build's work set), never a missing row. The beta is the symbol's own, or for an
    option its underlying's, for that session:
      ok                    a beta row with a beta
      insufficient_history  a beta row with a null beta (the window had fewer than
                            min_obs usable observations, or a constant regressor)
      unavailable           no beta row at all: the symbol's reason when it is recorded
                            unavailable (no prices), else 'no factor beta computed'. -#}

with position_values as (
    select * from {{ ref('int_position_values') }}
),

positions as (
    select * from {{ ref('int_positions') }}
),

factor_definitions as (
    select * from {{ ref('factor_definitions') }}
),

betas as (
    select * from {{ ref('stg_symbol_factor_betas') }}
),

symbol_status as (
    select * from {{ ref('stg_symbol_status') }}
),

open_positions as (
    select
        position_values.portfolio_id,
        position_values.position_id,
        position_values.snapshot_date,
        position_values.symbol,
        coalesce(positions.underlying_symbol, position_values.symbol) as beta_symbol,
        position_values.market_value
    from position_values
    inner join positions on positions.position_id = position_values.position_id
    where position_values.is_open
),

position_factors as (
    select
        open_positions.*,
        factor_definitions.factor,
        factor_definitions.min_obs
    from open_positions
    cross join factor_definitions
),

with_betas as (
    select
        position_factors.*,
        betas.symbol is not null as has_beta_row,
        betas.beta,
        betas.n_obs,
        symbol_status.symbol_status,
        symbol_status.status_reason
    from position_factors
    left join betas
        on betas.symbol = position_factors.beta_symbol
       and betas.as_of_date = position_factors.snapshot_date
       and betas.factor = position_factors.factor
    left join symbol_status on symbol_status.symbol = position_factors.beta_symbol
),

final as (
    select
        portfolio_id,
        position_id,
        snapshot_date,
        symbol,
        beta_symbol,
        factor,
        beta,
        n_obs,
        case
            when beta is not null then 'ok'
            when has_beta_row then 'insufficient_history'
            else 'unavailable'
        end as exposure_status,
        case
            when beta is not null then null
            when has_beta_row and n_obs < min_obs
                then 'insufficient history: ' || n_obs || ' of ' || min_obs || ' observations'
            when has_beta_row then 'no beta: constant regressor in the window'
            when symbol_status = 'unavailable'
                then coalesce(status_reason, 'symbol ' || beta_symbol || ' unavailable')
            else 'no factor beta computed'
        end as exposure_reason,
        market_value
    from with_betas
)

select * from final
