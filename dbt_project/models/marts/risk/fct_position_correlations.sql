-- depends_on: {{ ref('stg_risk_work') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        indexes=[{'columns': ['portfolio_id', 'symbol_a', 'symbol_b'], 'unique': true}],
        pre_hook=[
            "{% if is_incremental() %}
             delete from {{ this }} as existing
             where existing.portfolio_id in (
                 select work.portfolio_id from {{ ref('stg_risk_work') }} as work
             )
             {% endif %}",
        ],
        post_hook=["{{ analyze_mart() }}"],
    )
}}
{#- Each portfolio's latest session: every pair a < b (byte order) of its risk symbols
    with a defined 90-session correlation, and the sessions it used. Incremental by
    portfolio: a risk build replaces the rows of its work portfolios only (the pre-hook
    deletes them, in the model's transaction), so two risk builds of disjoint
    portfolios (shards) never rewrite the same rows, and no build swaps the table
    (DDL) under another. Analyzed after every build: a daily build moves most rows to the
    new session, which stale statistics would estimate at one row. Only the risk phase writes raw.position_correlations, and only
    for its work portfolios; the first build (or a full refresh) reads every row. -#}

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
    {% if is_incremental() -%}
    where portfolio_id in (select w.portfolio_id from {{ ref('stg_risk_work') }} as w)
    {%- endif %}
)

select * from final
