-- (a): compute the long rows (the former int model: positions x factors joined with the
-- betas) and write them, for the sessions lo..hi
insert into layouts.long
select *
from layouts.derived
where snapshot_date >= :lo and snapshot_date <= :hi
