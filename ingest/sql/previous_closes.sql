-- The stored close just before each symbol's first fetched date (for the move check):
-- one backward index probe per symbol.
select
    firsts.symbol,
    previous.close
from unnest(cast(:s as text[]), cast(:d as date[])) as firsts (symbol, first_date)
cross join lateral (
    select prices.close
    from raw.prices as prices
    where prices.symbol = firsts.symbol and prices.price_date < firsts.first_date
    order by prices.price_date desc
    limit 1
) as previous
