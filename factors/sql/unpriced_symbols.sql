-- Symbols with no price at all (one index probe each): unavailable, no beta rows.
select s.symbol
from unnest(cast(:s as text[])) as s (symbol)
where not exists (
        select 1 from raw.prices as p
        where p.symbol = s.symbol
    )
