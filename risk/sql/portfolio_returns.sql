-- Daily returns of the portfolios with risk work, each from its own first needed
-- session (:lo_days, a day number per id of :ids: its first work session minus the
-- longest lookback) through :hi; the first session of a portfolio has no return
-- (NULL), whatever its stored daily_return.
with bounds as (
    select
        b.portfolio_id,
        date '1970-01-01' + b.lo_day as lo
    from unnest(cast(:ids as bigint[]), cast(:lo_days as integer[])) as b (portfolio_id, lo_day)
),

firsts as (
    select
        bounds.portfolio_id,
        bounds.lo,
        first_snapshot.first_date
    from bounds
    cross join lateral (
        select min(s.snapshot_date) as first_date
        from marts.fct_portfolio_snapshots as s
        where s.portfolio_id = bounds.portfolio_id
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
    and s.snapshot_date between firsts.lo and :hi
