-- The (portfolio, session) pairs whose risk rows this run (re)computes: per portfolio
-- from the earliest of its risk mark (history rewritten by the accounting build, whose
-- windows reach every later session) and its first stored snapshot with no risk row,
-- through :as_of: this risk phase's rows of raw.risk_work (its build id, :build_id).
with marks as (
    select
        portfolio_id,
        min(from_date) as from_date
    from raw.risk_marks
    where portfolio_id = any(:ids)
    group by portfolio_id
),

missing as (
    select
        s.portfolio_id,
        min(s.snapshot_date) as from_date
    from marts.fct_portfolio_snapshots as s
    where
        s.portfolio_id = any(:ids)
        and s.snapshot_date <= :as_of
        and not exists (
            select 1 from marts.fct_portfolio_risk as r
            where r.portfolio_id = s.portfolio_id and r.snapshot_date = s.snapshot_date
        )
    group by s.portfolio_id
),

starts as (
    select
        portfolio_id,
        min(from_date) as from_date
    from (
        select * from marks
        union all
        select * from missing
    ) as both_kinds
    group by portfolio_id
)

insert into raw.risk_work (build_id, portfolio_id, snapshot_date)
select
    :build_id as build_id,
    s.portfolio_id,
    s.snapshot_date
from starts
inner join marts.fct_portfolio_snapshots as s
    on
    s.portfolio_id = starts.portfolio_id
    and s.snapshot_date >= starts.from_date
    and s.snapshot_date <= :as_of
