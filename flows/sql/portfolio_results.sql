-- Per portfolio: sessions stored, watermark (last session before the first gap),
-- sessions missing or incomplete (and not final) through :as_of, and the latest
-- snapshot's figures. The watermark is computed here through the run's :as_of, not
-- read from marts.portfolio_watermarks, whose expected date is the book's frontier.
with scope as (
    select p.portfolio_id, p.name, min(x.entry_date) as first_entry
    from raw.portfolios as p inner join raw.positions as x on x.portfolio_id = p.portfolio_id
    where p.portfolio_id = any(:ids)
    group by p.portfolio_id, p.name
),

expected as (
    select
        scope.portfolio_id, t.session_date,
        -- done = complete or final: a copy of dbt's session_is_done
        -- (dbt_project/macros/done_sessions.sql)
        coalesce(s.is_complete or s.is_final, false) as is_complete
    from scope
    inner join raw.trading_sessions as t
        on t.session_date >= scope.first_entry and t.session_date <= :as_of
    left join marts.fct_portfolio_snapshots as s
        on s.portfolio_id = scope.portfolio_id and s.snapshot_date = t.session_date
),

marks as (
    select
        portfolio_id,
        count(*) filter (where not is_complete) as missing_sessions,
        min(session_date) filter (where not is_complete) as first_gap,
        max(session_date) as last_expected
    from expected
    group by portfolio_id
),

latest as (
    select distinct on (portfolio_id) portfolio_id, snapshot_date, equity, cumulative_pnl, daily_pnl
    from marts.fct_portfolio_snapshots
    where portfolio_id = any(:ids) and snapshot_date <= :as_of
    order by portfolio_id asc, snapshot_date desc
),

stored as (
    select portfolio_id, count(*) as sessions from marts.fct_portfolio_snapshots
    where portfolio_id = any(:ids) and snapshot_date <= :as_of
    group by portfolio_id
)

select
    scope.name,
    coalesce(stored.sessions, 0) as sessions,
    case when marks.first_gap is null then marks.last_expected
        else (
            select max(sessions.session_date) from raw.trading_sessions as sessions
            where sessions.session_date < marks.first_gap
                and sessions.session_date >= scope.first_entry
        )
    end as last_complete_date,
    coalesce(marks.missing_sessions, 0) as missing_sessions,
    scope.portfolio_id,
    latest.snapshot_date as latest_date,
    latest.equity,
    latest.cumulative_pnl,
    latest.daily_pnl
from scope
left join marks on marks.portfolio_id = scope.portfolio_id
left join latest on latest.portfolio_id = scope.portfolio_id
left join stored on stored.portfolio_id = scope.portfolio_id
order by scope.name
