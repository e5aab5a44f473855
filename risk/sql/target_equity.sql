-- Equity on every risk work session (this risk phase's rows, :build_id).
select
    w.portfolio_id,
    w.snapshot_date - date '1970-01-01' as day_number,
    s.equity
from raw.risk_work as w
inner join marts.fct_portfolio_snapshots as s
    on s.portfolio_id = w.portfolio_id and s.snapshot_date = w.snapshot_date
where w.build_id = :build_id
