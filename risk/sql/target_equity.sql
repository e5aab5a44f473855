-- Equity on every risk work session.
select
    w.portfolio_id,
    w.snapshot_date - date '1970-01-01' as day_number,
    s.equity
from raw.risk_work as w
inner join marts.fct_portfolio_snapshots as s
    on w.portfolio_id = s.portfolio_id and w.snapshot_date = s.snapshot_date
