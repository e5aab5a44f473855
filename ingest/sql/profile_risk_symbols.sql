-- The risk symbols of the portfolios' positions (an option's is its underlying), every
-- position, open or closed: a sector row exists for every session it was held.
select distinct coalesce(positions.underlying_symbol, positions.symbol) as symbol
from raw.positions as positions
where positions.portfolio_id = any(:ids)
order by symbol
