{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['portfolio_id', 'snapshot_date'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['portfolio_id', 'snapshot_date', 'position_id', 'factor'], 'unique': true},
        ],
        pre_hook=[
            "{% if is_incremental() %}
             delete from {{ this }} as existing
             using {{ ref('int_portfolio_work_sessions') }} as work
             where existing.portfolio_id = work.portfolio_id
               and existing.snapshot_date = work.snapshot_date
             {% endif %}",
        ],
        post_hook=["{{ analyze_mart() }}", "{{ exposure_counts_hook() }}"],
    )
}}
{#- One row per open position x factor x session. delete+insert on (portfolio_id,
    snapshot_date) replaces a recomputed session whole; the pre-hook also clears work
    sessions that no longer have any open position (delete+insert alone only deletes
    the keys present in the new rows), in the same transaction. The rows are already
    this build's work set; the join with it states the dependency the hook needs. -#}

with position_exposures as (
    select * from {{ ref('int_position_factor_exposures') }}
),

work_sessions as (
    select * from {{ ref('int_portfolio_work_sessions') }}
),

final as (
    select
        cast(position_exposures.portfolio_id as bigint) as portfolio_id,
        cast(position_exposures.position_id as bigint) as position_id,
        cast(position_exposures.snapshot_date as date) as snapshot_date,
        cast(position_exposures.symbol as text) as symbol,
        cast(position_exposures.factor as text) as factor,
        cast(position_exposures.beta as double precision) as beta,
        cast(position_exposures.exposure_status as text) as exposure_status,
        cast(position_exposures.exposure_reason as text) as exposure_reason,
        cast(position_exposures.market_value as double precision) as market_value
    from position_exposures
    inner join work_sessions
        on work_sessions.portfolio_id = position_exposures.portfolio_id
        and work_sessions.snapshot_date = position_exposures.snapshot_date
)

select * from final
