-- The long form over a vector layout, as marts.fct_position_factor_exposures reads its store
create view layouts.{table}_long as
with factor_order as (
    select
        factor,
        min_obs,
        cast(row_number() over (order by factor collate "C") as integer) as factor_index
    from raw_seeds.factor_definitions
)

select
    vectors.portfolio_id,
    vectors.position_id,
    vectors.snapshot_date,
    vectors.symbol,
    factor_order.factor,
    vectors.betas[factor_order.factor_index] as beta,
    case
        when vectors.betas[factor_order.factor_index] is not null then 'ok'
        when vectors.n_obs[factor_order.factor_index] is not null then 'insufficient_history'
        else 'unavailable'
    end as exposure_status,
    case
        when vectors.betas[factor_order.factor_index] is not null then null
        when vectors.n_obs[factor_order.factor_index] is not null then 'insufficient history'
        else vectors.unavailable_reason
    end as exposure_reason,
    vectors.market_value
from layouts.{table} as vectors
inner join factor_order on factor_order.factor_index <= cardinality(vectors.betas)
