-- Before the first build: every portfolio starts at its first entry's session.
select min(t.session_date)
from raw.trading_sessions as t
where
    t.session_date <= :a
    and t.session_date >= (
        select min(p.entry_date) from raw.positions as p
        where p.portfolio_id = any(:ids)
    )
