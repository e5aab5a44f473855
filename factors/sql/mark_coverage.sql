-- After the writes: each priced span is complete, so it becomes the symbol's range.
insert into raw.symbol_beta_coverage as c (symbol, covered_from, covered_through, factors)
select t.symbol, t.lo, greatest(t.hi, t.ct), cast(:factors as text[])
from unnest(
        cast(:symbols as text[]), cast(:lo as date[]), cast(:hi as date[]),
        cast(:ct as date[])
    ) as t (symbol, lo, hi, ct)
on conflict (symbol) do update
    set covered_from = excluded.covered_from,
        covered_through = excluded.covered_through,
        factors = excluded.factors,
        updated_at = now()
    where (c.covered_from, c.covered_through, c.factors)
    is distinct from (excluded.covered_from, excluded.covered_through, excluded.factors)
