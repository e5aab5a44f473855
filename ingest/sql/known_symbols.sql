-- Symbols with a stored price, and whether every stored price of theirs is manual.
select
    symbol,
    bool_and(source = :m) as manual_only
from raw.prices
where symbol = any(:s)
group by symbol
