-- A symbol's new or corrected return reaches its own betas of sessions lo .. hi.
delete from raw.symbol_factor_betas as b
using unnest(cast(:s as text[]), cast(:lo as date[]), cast(:hi as date[])) as c (symbol, lo, hi)
where b.symbol = c.symbol and b.as_of_date between c.lo and c.hi
