-- Before the first build: every portfolio starts at its first entry's session.
select
    p.portfolio_id,
    min(t.session_date) as gap
from raw.positions as p
inner join raw.trading_sessions as t on t.session_date >= p.entry_date
where p.portfolio_id = any(:ids) and t.session_date <= :a
group by p.portfolio_id
