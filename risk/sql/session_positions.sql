-- The positions of one portfolio open on one stored session, as open_positions.sql
-- selects them for the risk work set: market value, risk symbol (the underlying for
-- an option) and available = the symbol is not unavailable.
with positions as materialized (
    select
        p.position_id,
        p.entry_date,
        coalesce(p.underlying_symbol, p.symbol) as risk_symbol,
        coalesce(raw.effective_exit_date(p.exit_date, p.expiration), 'infinity'::date) as exit_date
    from raw.positions as p
    where p.portfolio_id = :portfolio_id
)

select
    v.portfolio_id,
    v.snapshot_date - date '1970-01-01' as day_number,
    v.position_id,
    positions.risk_symbol,
    v.market_value,
    case when st.status = 'unavailable' then 0 else 1 end as available
from marts.fct_position_values as v
inner join positions on positions.position_id = v.position_id
left join raw.symbol_status as st on st.symbol = positions.risk_symbol
where
    v.portfolio_id = :portfolio_id
    and v.snapshot_date = :session
    and v.snapshot_date >= positions.entry_date and v.snapshot_date < positions.exit_date
