-- Per portfolio: sessions stored, watermark (last session before the first gap),
-- sessions missing or incomplete through :as_of, and the latest snapshot's figures.
with scope as (
    select p.portfolio_id, p.name, min(x.entry_date) as first_entry
    from raw.portfolios p join raw.positions x using (portfolio_id)
    where p.portfolio_id = any(:ids)
    group by p.portfolio_id, p.name
),
expected as (
    select scope.portfolio_id, t.session_date,
           coalesce(s.is_complete, false) as is_complete
    from scope
    join raw.trading_sessions t
      on t.session_date >= scope.first_entry and t.session_date <= :as_of
    left join marts.fct_portfolio_snapshots s
      on s.portfolio_id = scope.portfolio_id and s.snapshot_date = t.session_date
),
marks as (
    select portfolio_id,
           count(*) filter (where not is_complete) as missing_sessions,
           min(session_date) filter (where not is_complete) as first_gap,
           max(session_date) as last_expected
    from expected group by portfolio_id
),
latest as (
    select distinct on (portfolio_id) portfolio_id, equity, cumulative_pnl, daily_pnl
    from marts.fct_portfolio_snapshots
    where portfolio_id = any(:ids) and snapshot_date <= :as_of
    order by portfolio_id, snapshot_date desc
),
stored as (
    select portfolio_id, count(*) as sessions from marts.fct_portfolio_snapshots
    where portfolio_id = any(:ids) and snapshot_date <= :as_of group by portfolio_id
)
select scope.name, coalesce(stored.sessions, 0) as sessions,
       case when marks.first_gap is null then marks.last_expected
            else (select max(session_date) from raw.trading_sessions
                  where session_date < marks.first_gap
                    and session_date >= scope.first_entry)
       end as last_complete_date,
       coalesce(marks.missing_sessions, 0) as missing_sessions,
       latest.equity, latest.cumulative_pnl, latest.daily_pnl
from scope
left join marks using (portfolio_id)
left join latest using (portfolio_id)
left join stored using (portfolio_id)
order by scope.name
