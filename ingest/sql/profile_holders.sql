-- The portfolios holding any of the symbols (as the position's symbol or an option's
-- underlying), each with the first entry date of those positions: from there on its
-- sector rows contain the symbol.
select
    positions.portfolio_id,
    min(positions.entry_date) as first_date
from raw.positions as positions
where
    positions.symbol = any(:s)
    or positions.underlying_symbol = any(:s)
group by positions.portfolio_id
order by positions.portfolio_id
