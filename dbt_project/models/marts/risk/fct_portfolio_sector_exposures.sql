{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['portfolio_id', 'snapshot_date'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['portfolio_id', 'snapshot_date', 'sector'], 'unique': true},
        ],
        post_hook=["{{ analyze_mart() }}"],
    )
}}
{#- One row per sector of at least one open position (market value 0 included) on a
    risk work session: long / short / gross / net as in the accounting; weights =
    value / equity (NULL when equity <= 0). A position's sector is its risk symbol's. -#}

with open_positions as (
    select * from {{ ref('int_risk_open_positions') }}
),

snapshots as (
    select * from {{ ref('fct_portfolio_snapshots') }}
),

by_sector as (
    select
        portfolio_id,
        snapshot_date,
        sector,
        sum(case when market_value > 0 then market_value else 0 end) as long_value,
        sum(case when market_value < 0 then market_value else 0 end) as short_value
    from open_positions
    group by portfolio_id, snapshot_date, sector
),

final as (
    select
        cast(by_sector.portfolio_id as bigint) as portfolio_id,
        cast(by_sector.snapshot_date as date) as snapshot_date,
        cast(by_sector.sector as text) as sector,
        cast(by_sector.long_value as double precision) as long_value,
        cast(by_sector.short_value as double precision) as short_value,
        cast(by_sector.long_value - by_sector.short_value as double precision) as gross_exposure,
        cast(by_sector.long_value + by_sector.short_value as double precision) as net_exposure,
        cast(
            case
                when snapshots.equity > 0
                    then (by_sector.long_value - by_sector.short_value) / snapshots.equity
            end as double precision
        ) as gross_weight,
        cast(
            case
                when snapshots.equity > 0
                    then (by_sector.long_value + by_sector.short_value) / snapshots.equity
            end as double precision
        ) as net_weight
    from by_sector
    inner join snapshots
        on
        snapshots.portfolio_id = by_sector.portfolio_id
        and snapshots.snapshot_date = by_sector.snapshot_date
)

select * from final
