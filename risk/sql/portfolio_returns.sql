-- Daily returns of the portfolios with risk work, from :lo through :hi; the first
-- session of a portfolio has no return (NULL), whatever its stored daily_return.
with work as (
    select distinct portfolio_id from raw.risk_work
),

firsts as (
    select
        work.portfolio_id,
        first_snapshot.first_date
    from work
    cross join lateral (
        select min(s.snapshot_date) as first_date
        from marts.fct_portfolio_snapshots as s
        where s.portfolio_id = work.portfolio_id
    ) as first_snapshot
)

select
    s.portfolio_id,
    s.snapshot_date - date '1970-01-01' as day_number,
    case when s.snapshot_date > firsts.first_date then s.daily_return end as daily_return
from firsts
inner join marts.fct_portfolio_snapshots as s
    on
    s.portfolio_id = firsts.portfolio_id
    and s.snapshot_date between :lo and :hi
