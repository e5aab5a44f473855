{{ config(sql_header="set local enable_mergejoin = off;") }}
{#- One row per open position x work session (int_position_values holds exactly this
    build's work set), with every factor in one vector, in the order of the factor
    name (macros/factor_vectors.sql: factor_order): betas[i] is the beta of factor i,
    n_obs[i] its fit's observations. The beta is the symbol's own, or for an option its
    underlying's, for that session; per factor:
      ok                    a beta row with a beta            (betas[i], n_obs[i] set)
      insufficient_history  a beta row with a null beta       (n_obs[i] set)
      unavailable           no beta row at all                (n_obs[i] null): the
                            reason, unavailable_reason, is the symbol's when it is
                            recorded unavailable (no prices), else 'no factor beta computed'.
    The vectors are built once per (beta symbol, session), ~1/10 of the position
    sessions, then joined to the positions: no position x factor row is ever made here
    (docs/performance.md "Exposure layout"). Merge joins are off for this one
    statement: PostgreSQL cannot estimate how many beta rows the range filter keeps
    (its bounds are computed) and would merge on the symbol alone. -#}

with position_values as (
    select * from {{ ref('int_position_values') }}
),

positions as (
    select * from {{ ref('int_positions') }}
),

factor_definitions as (
    select * from {{ ref('factor_definitions') }}
),

betas as not materialized (
    select * from {{ ref('stg_symbol_factor_betas') }}
),

symbol_status as (
    select * from {{ ref('stg_symbol_status') }}
),

factor_order as (
    {{ factor_order('factor_definitions') }}
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

work_range as (
    select min(snapshot_date) as first_date, max(snapshot_date) as last_date
    from open_positions
),

beta_symbols as (
    select distinct beta_symbol from open_positions
),

{# Only the betas of this build's symbols and session range: one index range scan per
   symbol on the (symbol, as_of_date, factor) key, never the whole beta history. #}
betas_in_range as (
    select betas.symbol, betas.as_of_date, betas.factor, betas.beta, betas.n_obs
    from beta_symbols
    inner join betas on betas.symbol = beta_symbols.beta_symbol
    where betas.as_of_date >= (select work_range.first_date from work_range)
        and betas.as_of_date <= (select work_range.last_date from work_range)
),

symbol_sessions as (
    select distinct symbol, as_of_date from betas_in_range
),

symbol_vectors as (
    -- every factor in order, null where the factor has no beta row
    select
        symbol_sessions.symbol,
        symbol_sessions.as_of_date,
        array_agg(betas_in_range.beta order by factor_order.factor_index) as betas,
        array_agg(
            case when betas_in_range.symbol is not null then coalesce(betas_in_range.n_obs, 0) end
            order by factor_order.factor_index
        ) as n_obs
    from symbol_sessions
    cross join factor_order
    left join betas_in_range
        on betas_in_range.symbol = symbol_sessions.symbol
        and betas_in_range.as_of_date = symbol_sessions.as_of_date
        and betas_in_range.factor = factor_order.factor
    group by symbol_sessions.symbol, symbol_sessions.as_of_date
),

no_beta_vector as (
    -- a session without any beta row: every factor unavailable
    select
        array_agg(cast(null as double precision) order by factor_index) as betas,
        array_agg(cast(null as integer) order by factor_index) as n_obs
    from factor_order
),

final as (
    select
        open_positions.portfolio_id,
        open_positions.position_id,
        open_positions.snapshot_date,
        open_positions.symbol,
        open_positions.beta_symbol,
        open_positions.market_value,
        coalesce(symbol_vectors.betas, no_beta_vector.betas) as betas,
        coalesce(symbol_vectors.n_obs, no_beta_vector.n_obs) as n_obs,
        case
            when symbol_vectors.symbol is not null
                and array_position(symbol_vectors.n_obs, null) is null then null
            when symbol_status.symbol_status = 'unavailable'
                then coalesce(
                        symbol_status.status_reason,
                        'symbol ' || open_positions.beta_symbol || ' unavailable'
                    )
            else 'no factor beta computed'
        end as unavailable_reason
    from open_positions
    cross join no_beta_vector
    left join symbol_vectors
        on symbol_vectors.symbol = open_positions.beta_symbol
        and symbol_vectors.as_of_date = open_positions.snapshot_date
    left join symbol_status on symbol_status.symbol = open_positions.beta_symbol
)

select * from final
