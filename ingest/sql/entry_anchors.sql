-- Per symbol held by the portfolios in scope (options excluded: they are priced from
-- their underlying): the earliest entry's date and price over every stored portfolio,
-- so a symbol's synthetic path does not depend on which portfolios a run (or a shard)
-- holds.
with scoped as (
    select distinct p.symbol
    from raw.positions as p
    where p.portfolio_id = any(:ids)
)

select distinct on (p.symbol)
    p.symbol,
    p.entry_date,
    p.entry_price
from raw.positions as p
inner join scoped on scoped.symbol = p.symbol
where
    p.investment_class is distinct from 'OPTIONS'
    and p.underlying_symbol is null
order by p.symbol asc, p.entry_date asc, p.position_id asc
