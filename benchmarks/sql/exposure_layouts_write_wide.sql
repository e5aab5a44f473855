-- (b) / (b'): compute the vectors (as int_position_factor_exposures: one vector per
-- beta symbol x session, joined to the positions) and write them, sessions lo..hi
insert into layouts.{table}
with factor_order as (
    select factor, cast(row_number() over (order by factor collate "C") as integer) as factor_index
    from raw_seeds.factor_definitions
),

open_positions as (
    select
        position_values.portfolio_id,
        position_values.position_id,
        position_values.snapshot_date,
        position_values.symbol,
        position_values.market_value,
        coalesce(positions.underlying_symbol, positions.symbol) as beta_symbol
    from marts.fct_position_values as position_values
    inner join raw.positions as positions on positions.position_id = position_values.position_id
    where position_values.is_open
        and position_values.snapshot_date >= :lo and position_values.snapshot_date <= :hi
),

symbol_sessions as (
    select distinct beta_symbol, snapshot_date from open_positions
),

vectors as (
    select
        symbol_sessions.beta_symbol,
        symbol_sessions.snapshot_date,
        array_agg(betas.beta order by factor_order.factor_index) as betas,
        array_agg(
            case when betas.symbol is not null then coalesce(betas.n_obs, 0) end
            order by factor_order.factor_index
        ) as n_obs
    from symbol_sessions
    cross join factor_order
    left join raw.symbol_factor_betas as betas
        on betas.symbol = symbol_sessions.beta_symbol
        and betas.as_of_date = symbol_sessions.snapshot_date
        and betas.factor = factor_order.factor
    group by symbol_sessions.beta_symbol, symbol_sessions.snapshot_date
)

select
    open_positions.portfolio_id,
    open_positions.position_id,
    open_positions.snapshot_date,
    open_positions.symbol,
    open_positions.market_value,
    vectors.betas,
    vectors.n_obs,
    case when array_position(vectors.n_obs, null) is not null then 'no factor beta computed' end
        as unavailable_reason,
    cast(null as integer []) as deleted_factors
from open_positions
inner join vectors
    on vectors.beta_symbol = open_positions.beta_symbol
    and vectors.snapshot_date = open_positions.snapshot_date
