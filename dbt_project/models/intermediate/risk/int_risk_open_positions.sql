{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }}"]) }}
{#- The positions open on every risk work session (entry <= d < effective exit), with
    their market value, priced symbol, risk symbol (an option's underlying) and sector
    (the risk symbol's). -#}

with work_sessions as (
    select * from {{ ref('stg_risk_work') }}
),

position_values as (
    select * from {{ ref('fct_position_values') }}
),

positions as (
    select * from {{ ref('stg_positions') }}
),

sectors as (
    select * from {{ ref('int_symbol_sectors') }}
),

position_spans as materialized (
    -- the effective exit once per position, not once per (position, session)
    select
        position_id,
        entry_date,
        coalesce(underlying_symbol, symbol) as risk_symbol,
        coalesce(raw.effective_exit_date(exit_date, expiration), 'infinity'::date) as exit_date
    from positions
    where portfolio_id in (select work_sessions.portfolio_id from work_sessions)
),

final as (
    select
        work_sessions.portfolio_id,
        position_values.position_id,
        work_sessions.snapshot_date,
        position_values.symbol,
        position_spans.risk_symbol,
        position_values.market_value,
        coalesce(sectors.sector, 'Unclassified') as sector
    from work_sessions
    inner join position_values
        on
        position_values.portfolio_id = work_sessions.portfolio_id
        and position_values.snapshot_date = work_sessions.snapshot_date
    inner join position_spans on position_spans.position_id = position_values.position_id
    left join sectors on sectors.symbol = position_spans.risk_symbol
    where
        work_sessions.snapshot_date >= position_spans.entry_date
        and work_sessions.snapshot_date < position_spans.exit_date
)

select * from final
