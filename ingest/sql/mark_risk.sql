-- Risk rows from :d on must be recomputed (the accounting build rewrites them).
insert into raw.risk_marks (portfolio_id, from_date)
select
    m.portfolio_id,
    m.from_date
from unnest(cast(:ids as bigint[]), cast(:d as date[])) as m (portfolio_id, from_date)
