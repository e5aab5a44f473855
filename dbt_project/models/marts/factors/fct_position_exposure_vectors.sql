{{
    config(
        schema='marts_store',
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['portfolio_id', 'snapshot_date'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['portfolio_id', 'snapshot_date', 'position_id'], 'unique': true},
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
{#- The exposure store: one row per open position x session, every factor in one
    vector (macros/factor_vectors.sql), instead of one row per factor: 1/12 of the
    rows and index entries, ~1/5 of the bytes (docs/performance.md "Exposure layout").
    The contract, one row per position x factor x session, is the view
    marts.fct_position_factor_exposures over this table. Not in the marts schema: it
    is storage, not a contract name. delete+insert on (portfolio_id, snapshot_date)
    replaces a recomputed session whole; the pre-hook also clears work sessions that no
    longer have any open position, in the same transaction. -#}

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
        cast(position_exposures.market_value as double precision) as market_value,
        cast(position_exposures.betas as double precision[]) as betas,
        cast(position_exposures.n_obs as integer[]) as n_obs,
        cast(position_exposures.unavailable_reason as text) as unavailable_reason,
        cast(null as integer[]) as deleted_factors
    from position_exposures
    inner join work_sessions
        on work_sessions.portfolio_id = position_exposures.portfolio_id
        and work_sessions.snapshot_date = position_exposures.snapshot_date
)

select * from final
