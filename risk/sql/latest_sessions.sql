-- Each work portfolio's latest stored session, when this run recomputes it: the
-- sessions whose full correlation matrix is kept (raw.position_correlations).
select
    w.portfolio_id,
    max(w.snapshot_date) - date '1970-01-01' as day_number
from raw.risk_work as w
where w.build_id = :build_id
group by w.portfolio_id
having max(w.snapshot_date) = (
        select max(s.snapshot_date) from marts.fct_portfolio_snapshots as s
        where s.portfolio_id = w.portfolio_id
    )
