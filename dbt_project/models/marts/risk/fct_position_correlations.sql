{{
    config(
        materialized='table',
        indexes=[{'columns': ['portfolio_id', 'symbol_a', 'symbol_b'], 'unique': true}],
    )
}}
{#- Each portfolio's latest session: every pair a < b (byte order) of its risk symbols
    with a defined 90-session correlation, and the sessions it used. -#}

with correlations as (
    select * from {{ ref('stg_position_correlations') }}
),

final as (
    select
        cast(portfolio_id as bigint) as portfolio_id,
        cast(as_of_date as date) as as_of_date,
        cast(symbol_a as text) as symbol_a,
        cast(symbol_b as text) as symbol_b,
        cast(correlation as double precision) as correlation,  -- noqa: RF04
        cast(n_obs as integer) as n_obs
    from correlations
)

select * from final
