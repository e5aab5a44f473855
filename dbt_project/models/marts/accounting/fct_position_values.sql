{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['portfolio_id', 'snapshot_date'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['portfolio_id', 'snapshot_date', 'position_id'], 'unique': true},
        ],
        post_hook=["{{ analyze_mart() }}"],
    )
}}
{#- delete+insert on (portfolio_id, snapshot_date): a restated session replaces every
    position row of that portfolio and session, so a removed position leaves nothing
    behind. The rows come from this build's work set only (per-portfolio gaps). -#}

with position_values as (
    select * from {{ ref('int_position_values') }}
),

final as (
    select
        cast(portfolio_id as bigint) as portfolio_id,
        cast(position_id as bigint) as position_id,
        cast(snapshot_date as date) as snapshot_date,
        cast(symbol as text) as symbol,
        cast(quantity as double precision) as quantity,
        cast(price as double precision) as price,
        cast(price_source as text) as price_source,
        cast(market_value as double precision) as market_value,
        cast(daily_pnl as double precision) as daily_pnl,
        cast(cumulative_pnl as double precision) as cumulative_pnl,
        cast(multiplier as integer) as multiplier,
        cast(is_open as boolean) as is_open,
        cast(is_symbol_unavailable as boolean) as is_symbol_unavailable
    from position_values
)

select * from final
