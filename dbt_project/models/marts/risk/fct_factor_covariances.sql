{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['as_of_date'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['as_of_date', 'factor_a', 'factor_b'], 'unique': true},
        ],
    )
}}
{#- The EWMA (lambda 0.94) covariance of the 8 factor ETFs' returns as of each risk
    work session (all 64 ordered pairs; sessions where it is undefined have no rows). -#}

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
