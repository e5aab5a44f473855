-- Before the risk marts exist: every stored snapshot of the portfolios in scope.
insert into raw.risk_work (portfolio_id, snapshot_date)
select
    s.portfolio_id,
    s.snapshot_date
from marts.fct_portfolio_snapshots as s
where s.portfolio_id = any(:ids) and s.snapshot_date <= :as_of
