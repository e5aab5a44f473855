-- The definitions' indexes (0-based) in the database's sort order of the factor names.
select t.i - 1 as definition_index
from unnest(cast(:f as text[])) with ordinality as t (f, i)
order by t.f
