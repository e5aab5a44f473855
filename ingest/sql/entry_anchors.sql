-- Per symbol held by the portfolios in scope (options excluded: they are priced from
-- their underlying): the earliest entry's date and price.
select distinct on (p.symbol)
    p.symbol,
    p.entry_date,
    p.entry_price
from raw.positions as p
where
    p.portfolio_id = any(:ids)
    and p.investment_class is distinct from 'OPTIONS'
    and p.underlying_symbol is null
order by p.symbol asc, p.entry_date asc, p.position_id asc
