{{ config(sql_header="set local enable_mergejoin = off;") }}
{#- One row per open position x factor x work session (int_position_values holds exactly
    this build's work set), never a missing row. The beta is the symbol's own, or for an
    option its underlying's, for that session:
      ok                    a beta row with a beta
      insufficient_history  a beta row with a null beta (the window had fewer than
                            min_obs usable observations, or a constant regressor)
      unavailable           no beta row at all: the symbol's reason when it is recorded
                            unavailable (no prices), else 'no factor beta computed'.
    Merge joins are off for this one statement: PostgreSQL cannot estimate how many
    beta rows the range filter keeps (its bounds are computed), guesses a few thousand
    where a backfill chunk has ~1M, and then merges on the symbol alone, comparing every
    position-factor row with every beta of its symbol (558 s for a 60-session chunk of
    1,000 portfolios). A hash join on the three keys costs the same whatever the count. -#}

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
   symbol on the (symbol, as_of_date, factor) key, never the whole beta history (12
   rows per symbol and session, the largest table of the project). #}
betas_in_range as (
    select betas.symbol, betas.as_of_date, betas.factor, betas.beta, betas.n_obs
    from beta_symbols
    inner join betas on betas.symbol = beta_symbols.beta_symbol
    where betas.as_of_date >= (select work_range.first_date from work_range)
        and betas.as_of_date <= (select work_range.last_date from work_range)
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
        betas_in_range.symbol is not null as has_beta_row,
        betas_in_range.beta,
        betas_in_range.n_obs,
        symbol_status.symbol_status,
        symbol_status.status_reason
    from position_factors
    left join betas_in_range
        on betas_in_range.symbol = position_factors.beta_symbol
        and betas_in_range.as_of_date = position_factors.snapshot_date
        and betas_in_range.factor = position_factors.factor
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
