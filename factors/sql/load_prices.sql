-- adj_close (else close) per (symbol, day number since 1970) over the grid's range.
select
    symbol,
    price_date - date '1970-01-01' as day_number,
    coalesce(adj_close, close) as price
from raw.prices
where symbol = any(:s) and price_date between :lo and :hi
