{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['portfolio_id', 'snapshot_date', 'position_id'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['portfolio_id', 'snapshot_date', 'position_id'], 'unique': true},
        ],
        post_hook=["{{ analyze_mart() }}"],
    )
}}
{#- Every position open on a risk work session: its risk symbol's 63-session realized
    volatility and its contribution to the holdings back-cast variance (risk phase). -#}

with open_positions as (
    select * from {{ ref('int_risk_open_positions') }}
),

stats as (
    select * from {{ ref('stg_position_risk_stats') }}
),

final as (
    select
        cast(open_positions.portfolio_id as bigint) as portfolio_id,
        cast(open_positions.position_id as bigint) as position_id,
        cast(open_positions.snapshot_date as date) as snapshot_date,
        cast(open_positions.symbol as text) as symbol,
        cast(stats.realized_vol_63d as double precision) as realized_vol_63d,
        cast(stats.risk_contribution as double precision) as risk_contribution
    from open_positions
    left join stats
        on
        stats.portfolio_id = open_positions.portfolio_id
        and stats.snapshot_date = open_positions.snapshot_date
        and stats.position_id = open_positions.position_id
)

select * from final
