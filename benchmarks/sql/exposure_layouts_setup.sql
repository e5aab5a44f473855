-- The candidate layouts of the position x factor exposures, side by side in schema
-- layouts (benchmarks/exposure_layouts.py), all from the same marts and betas.
-- (c) exposures derived at read time: positions x factors x betas, a view only.
drop schema if exists layouts cascade;
create schema layouts;

create view layouts.derived as
with factor_order as (
    select factor, min_obs from raw_seeds.factor_definitions
)

select
    position_values.portfolio_id,
    position_values.position_id,
    position_values.snapshot_date,
    position_values.symbol,
    factor_order.factor,
    betas.beta,
    case
        when betas.beta is not null then 'ok'
        when betas.symbol is not null then 'insufficient_history'
        else 'unavailable'
    end as exposure_status,
    case
        when betas.beta is not null then null
        when betas.n_obs < factor_order.min_obs
            then 'insufficient history: ' || betas.n_obs || ' of ' || factor_order.min_obs
            || ' observations'
        when betas.symbol is not null then 'no beta: constant regressor in the window'
        when symbol_status.status = 'unavailable' then coalesce(symbol_status.reason, 'unavailable')
        else 'no factor beta computed'
    end as exposure_reason,
    position_values.market_value
from marts.fct_position_values as position_values
inner join raw.positions as positions on positions.position_id = position_values.position_id
cross join factor_order
left join raw.symbol_factor_betas as betas
    on betas.symbol = coalesce(positions.underlying_symbol, positions.symbol)
    and betas.as_of_date = position_values.snapshot_date
    and betas.factor = factor_order.factor
left join raw.symbol_status as symbol_status
    on symbol_status.symbol = coalesce(positions.underlying_symbol, positions.symbol)
where position_values.is_open;

-- (a) today's long table: one row per position x factor x session
create table layouts.long (
    portfolio_id bigint not null,
    position_id bigint not null,
    snapshot_date date not null,
    symbol text not null,
    factor text not null,
    beta double precision,
    exposure_status text not null,
    exposure_reason text,
    market_value double precision not null
);
create unique index on layouts.long (portfolio_id, snapshot_date, position_id, factor);

-- (b) one row per position x session, the factors in a vector (the shipped store)
create table layouts.wide (like marts_store.fct_position_exposure_vectors);
create unique index on layouts.wide (portfolio_id, snapshot_date, position_id);

-- (b') the same, hash-partitioned by portfolio_id
create table layouts.wide_hash (like marts_store.fct_position_exposure_vectors)
partition by hash (portfolio_id);
create table layouts.wide_hash_0 partition of layouts.wide_hash for values with (modulus 4, remainder 0);
create table layouts.wide_hash_1 partition of layouts.wide_hash for values with (modulus 4, remainder 1);
create table layouts.wide_hash_2 partition of layouts.wide_hash for values with (modulus 4, remainder 2);
create table layouts.wide_hash_3 partition of layouts.wide_hash for values with (modulus 4, remainder 3);
create unique index on layouts.wide_hash (portfolio_id, snapshot_date, position_id);
