{{
    config(
        materialized='view',
        post_hook=["{{ exposure_view_triggers() }}"],
    )
}}
{#- One row per open position x factor x session, the contract's long form, read from
    the vector store (one row per position x session, every factor in a vector; see
    marts_store.fct_position_exposure_vectors). A filter on portfolio_id / snapshot_date
    reaches the store's index; a vector is expanded only where it is read. The status
    and reason per factor:
      ok                    betas[i] is set
      insufficient_history  a beta row without a beta (n_obs[i] set): too few
                            observations against the factor's min_obs, else a
                            constant regressor
      unavailable           no beta row (n_obs[i] null): the stored unavailable_reason.
    A factor deleted through this view (its INSTEAD OF triggers) is left out. -#}

with vectors as (
    select * from {{ ref('fct_position_exposure_vectors') }}
),

factor_definitions as (
    select * from {{ ref('factor_definitions') }}
),

factor_order as (
    {{ factor_order('factor_definitions') }}
),

expanded as (
    select
        vectors.portfolio_id,
        vectors.position_id,
        vectors.snapshot_date,
        vectors.symbol,
        factor_order.factor,
        factor_order.min_obs,
        vectors.betas[factor_order.factor_index] as beta,
        vectors.n_obs[factor_order.factor_index] as n_obs,
        vectors.unavailable_reason,
        vectors.market_value
    from vectors
    inner join factor_order
        on factor_order.factor_index <= cardinality(vectors.betas)
        and not coalesce(factor_order.factor_index = any(vectors.deleted_factors), false)
),

final as (
    select
        cast(portfolio_id as bigint) as portfolio_id,
        cast(position_id as bigint) as position_id,
        cast(snapshot_date as date) as snapshot_date,
        cast(symbol as text) as symbol,
        cast(factor as text) as factor,
        cast(beta as double precision) as beta,
        cast(
            case
                when beta is not null then 'ok'
                when n_obs is not null then 'insufficient_history'
                else 'unavailable'
            end as text
        ) as exposure_status,
        cast(
            case
                when beta is not null then null
                when n_obs < min_obs
                    then 'insufficient history: ' || n_obs || ' of ' || min_obs || ' observations'
                when n_obs is not null then 'no beta: constant regressor in the window'
                else unavailable_reason
            end as text
        ) as exposure_reason,
        cast(market_value as double precision) as market_value
    from expanded
)

select * from final
