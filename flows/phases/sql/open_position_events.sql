-- The positions of the portfolios in scope as events: +1 on each entry date, -1 on
-- the first session it is no longer open. The chunk planner turns them into open
-- positions per session (the rows a dbt chunk writes) with one cumulative sum.
with events as (
    select entry_date as event_date, 1 as delta
    from raw.positions
    where portfolio_id = any(:ids)
    union all
    select raw.effective_exit_date(exit_date, expiration) as event_date, -1 as delta
    from raw.positions
    where portfolio_id = any(:ids)
)

select
    event_date,
    sum(delta)::bigint as delta
from events
where event_date is not null
group by event_date
order by event_date
