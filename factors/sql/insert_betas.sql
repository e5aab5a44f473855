-- A plain INSERT (the pairs are missing or were just cleared, under the factors lock):
-- about twice as fast as INSERT ... ON CONFLICT DO UPDATE on millions of rows, same rows.
insert into raw.symbol_factor_betas
(symbol, as_of_date, factor, beta, r_squared, n_obs, computed_at)
select
    s.symbol,
    i.as_of_date,
    f.factor,
    nullif(i.beta, 'NaN'),
    nullif(i.r_squared, 'NaN'),
    i.n_obs,
    now()
from incoming_betas as i
-- joins, not array subscripts: subscripting a text array walks it element by element
inner join unnest(cast(:symbols as text[])) with ordinality as s (symbol, code) on s.code = i.sym
inner join unnest(cast(:factors as text[])) with ordinality as f (factor, code) on f.code = i.fac
