{{ config(materialized='table', post_hook=["analyze {{ this }}"]) }}
{#- Concentration over the positions open on d grouped by priced symbol (an option is
    its own symbol): MV_s = sum of MV, w_s = |MV_s| / sum |MV_s|. NULL when sum |MV_s| = 0. -#}

with open_positions as (
    select * from {{ ref('int_risk_open_positions') }}
),

by_symbol as (
    select
        portfolio_id,
        snapshot_date,
        symbol,
        abs(sum(market_value)) as abs_value
    from open_positions
    group by portfolio_id, snapshot_date, symbol
),

weighted as (
    select
        portfolio_id,
        snapshot_date,
        abs_value / nullif(sum(abs_value) over (partition by portfolio_id, snapshot_date), 0)
            as weight
    from by_symbol
),

ranked as (
    select
        portfolio_id,
        snapshot_date,
        weight,
        row_number() over (
            partition by portfolio_id, snapshot_date order by weight desc nulls last
        ) as weight_rank
    from weighted
),

final as (
    select
        portfolio_id,
        snapshot_date,
        10000 * sum(weight * weight) as hhi,
        10000 / nullif(10000 * sum(weight * weight), 0) as effective_num_positions,
        sum(weight) filter (where weight_rank <= 3) as top_3_weight,
        sum(weight) filter (where weight_rank <= 10) as top_10_weight
    from ranked
    group by portfolio_id, snapshot_date
)

select * from final
