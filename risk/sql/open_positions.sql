-- The positions open on every risk work session, with their market value and risk
-- symbol (the underlying for an option); available = the symbol is not unavailable.
with positions as materialized (
    select
        p.position_id,
        p.entry_date,
        coalesce(p.underlying_symbol, p.symbol) as risk_symbol,
        coalesce(raw.effective_exit_date(p.exit_date, p.expiration), 'infinity'::date) as exit_date
    from raw.positions as p
    where p.portfolio_id in (
            select distinct w.portfolio_id from raw.risk_work as w
            where w.build_id = :build_id
        )
)

select
    v.portfolio_id,
    v.snapshot_date - date '1970-01-01' as day_number,
    v.position_id,
    positions.risk_symbol,
    v.market_value,
    case when st.status = 'unavailable' then 0 else 1 end as available
from raw.risk_work as w
inner join marts.fct_position_values as v
    on v.portfolio_id = w.portfolio_id and v.snapshot_date = w.snapshot_date
inner join positions on positions.position_id = v.position_id
left join raw.symbol_status as st on st.symbol = positions.risk_symbol
where
    w.build_id = :build_id
    and v.snapshot_date >= positions.entry_date and v.snapshot_date < positions.exit_date
