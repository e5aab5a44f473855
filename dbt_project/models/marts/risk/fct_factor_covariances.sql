{{
    config(
        materialized='incremental',
        incremental_strategy='upsert',
        unique_key=['as_of_date', 'factor_a', 'factor_b'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['as_of_date', 'factor_a', 'factor_b'], 'unique': true},
        ],
        pre_hook=[
            "{% if is_incremental() %}
             delete from {{ this }} as existing
             where
                 existing.as_of_date in (select work.snapshot_date from {{ ref('stg_risk_work') }} as work)
                 and not exists (
                     select 1 from {{ ref('stg_factor_covariances') }} as stored
                     where stored.as_of_date = existing.as_of_date
                       and stored.factor_a = existing.factor_a
                       and stored.factor_b = existing.factor_b
                 )
             {% endif %}",
        ],
    )
}}
{#- The EWMA (lambda 0.94) covariance of the 8 factor ETFs' returns as of each risk
    work session (all 64 ordered pairs; sessions where it is undefined have no rows).
    Keyed by session alone: two risk builds of disjoint portfolios (shards) running at
    once build the same sessions, with the same rows, so the rows are upserted in key
    order (macros/upsert.sql), never deleted and re-inserted (of two concurrent
    delete+insert of one session, the second fails on the unique index); the pre-hook
    deletes the pairs a work session no longer has. -#}

with work_dates as (
    select distinct snapshot_date from {{ ref('stg_risk_work') }}
),

covariances as (
    select * from {{ ref('stg_factor_covariances') }}
),

final as (
    select
        cast(covariances.as_of_date as date) as as_of_date,
        cast(covariances.factor_a as text) as factor_a,
        cast(covariances.factor_b as text) as factor_b,
        cast(covariances.covariance as double precision) as covariance,
        cast(covariances.correlation as double precision) as correlation  -- noqa: RF04
    from covariances
    inner join work_dates on work_dates.snapshot_date = covariances.as_of_date
)

select * from final
