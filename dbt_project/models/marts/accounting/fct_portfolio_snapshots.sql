{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['portfolio_id', 'snapshot_date'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['portfolio_id', 'snapshot_date'], 'unique': true},
        ],
        post_hook=["{{ analyze_mart() }}"],
    )
}}
{#- One row per portfolio per session, aggregated from this build's position values.
    equity = initial equity + cumulative P&L; daily return against the previous
    session's equity (initial equity on the first session).
    is_final (DESIGN "Input limits"): an incomplete session whose every missing close
    was already asked of the providers and not had (the session lies in the symbol's
    asked range, raw.symbol_status covered_from..covered_to, e.g. before the first
    price of a symbol held since before its history starts). Such a session is done
    (macros/done_sessions.sql: session_is_done): reported, not rebuilt and not asked
    again, until a price for it arrives, which restates it (ingest/restatements.py). -#}

with position_values as (
    select * from {{ ref('int_position_values') }}
),

work_sessions as (
    select * from {{ ref('int_portfolio_work_sessions') }}
),

portfolios as (
    select * from {{ ref('stg_portfolios') }}
),

symbol_status as (
    select * from {{ ref('stg_symbol_status') }}
),

missing_closes as (
    -- per position row: is it missing a close (what makes a snapshot incomplete), and
    -- was that close already asked of the providers
    select
        position_values.*,
        position_values.is_open
        and position_values.price_source = 'entry'
        and not position_values.is_symbol_unavailable as is_missing_close,
        coalesce(
            position_values.snapshot_date between symbol_status.covered_from and symbol_status.covered_to,
            false
        ) as is_close_asked
    from position_values
    left join symbol_status on symbol_status.symbol = position_values.symbol
),

aggregated as (
    select
        portfolio_id,
        snapshot_date,
        sum(case when market_value > 0 then market_value else 0 end) as long_value,
        sum(case when market_value < 0 then market_value else 0 end) as short_value,
        sum(cumulative_pnl) as cumulative_pnl,
        sum(daily_pnl) as daily_pnl,
        sum(previous_cumulative_pnl) as previous_cumulative_pnl,
        count(*) filter (where is_open) as position_count,
        bool_and(not is_missing_close) as is_complete,
        bool_and(not is_missing_close or is_close_asked) as is_every_missing_close_asked
    from missing_closes
    group by portfolio_id, snapshot_date
),

final as (
    select
        cast(work_sessions.portfolio_id as bigint) as portfolio_id,
        cast(work_sessions.snapshot_date as date) as snapshot_date,
        cast(portfolios.initial_equity + aggregated.cumulative_pnl as double precision) as equity,
        cast(aggregated.long_value as double precision) as long_value,
        cast(aggregated.short_value as double precision) as short_value,
        cast(aggregated.long_value - aggregated.short_value as double precision) as gross_exposure,
        cast(aggregated.long_value + aggregated.short_value as double precision) as net_exposure,
        cast(
            portfolios.initial_equity + aggregated.cumulative_pnl
            - (aggregated.long_value + aggregated.short_value) as double precision
        ) as cash,
        cast(aggregated.daily_pnl as double precision) as daily_pnl,
        cast(
            aggregated.daily_pnl
            / nullif(portfolios.initial_equity + aggregated.previous_cumulative_pnl, 0)
            as double precision
        ) as daily_return,
        cast(aggregated.cumulative_pnl as double precision) as cumulative_pnl,
        cast(aggregated.position_count as integer) as position_count,
        cast(aggregated.is_complete as boolean) as is_complete,
        cast(portfolios.initial_equity as double precision) as initial_equity,
        cast(not aggregated.is_complete and aggregated.is_every_missing_close_asked as boolean) as is_final
    from work_sessions
    inner join aggregated
        on aggregated.portfolio_id = work_sessions.portfolio_id
        and aggregated.snapshot_date = work_sessions.snapshot_date
    inner join portfolios on portfolios.portfolio_id = work_sessions.portfolio_id
)

select * from final
