-- Before the risk marts exist: every stored snapshot of the portfolios in scope (this
-- risk phase's rows of raw.risk_work, under its build id :build_id).
insert into raw.risk_work (build_id, portfolio_id, snapshot_date)
select
    :build_id as build_id,
    s.portfolio_id,
    s.snapshot_date
from marts.fct_portfolio_snapshots as s
where s.portfolio_id = any(:ids) and s.snapshot_date <= :as_of
