{{ config(materialized='view') }}
{#- Live, per-portfolio watermark read straight from the snapshots (never a stored
    copy) for every active portfolio, independent of any build's scope: the last
    session up to which every session is done (macros/done_sessions.sql:
    session_is_done, complete or final), the session expected (the book's frontier: the
    last session any active portfolio has a snapshot for, so a portfolio left behind
    while others moved on shows its missing sessions), how many sessions are missing
    (no snapshot, or incomplete and not final) and how many are final. -#}

with portfolios as (
    select * from {{ ref('stg_portfolios') }}
),

positions as (
    select * from {{ ref('stg_positions') }}
),

sessions as (
    select * from {{ ref('stg_trading_sessions') }}
),

snapshots as (
    select * from {{ ref('fct_portfolio_snapshots') }}
),

expected as (
    select max(snapshots.snapshot_date) as expected_date
    from snapshots
    inner join portfolios on portfolios.portfolio_id = snapshots.portfolio_id
    where portfolios.is_active
),

first_entries as (
    select portfolio_id, min(entry_date) as first_entry_date
    from positions
    group by portfolio_id
),

expected_sessions as (
    select
        portfolios.portfolio_id,
        sessions.session_date,
        {{ session_is_done('snapshots') }} as is_done,
        coalesce(snapshots.is_final, false) as is_final
    from portfolios
    inner join first_entries on first_entries.portfolio_id = portfolios.portfolio_id
    cross join expected
    inner join sessions
        on sessions.session_date >= first_entries.first_entry_date
        and sessions.session_date <= expected.expected_date
    left join snapshots
        on snapshots.portfolio_id = portfolios.portfolio_id
        and snapshots.snapshot_date = sessions.session_date
    where portfolios.is_active
),

per_portfolio as (
    select
        portfolio_id,
        min(session_date) filter (where not is_done) as first_gap_date,
        max(session_date) as expected_session_date,
        count(*) filter (where not is_done) as missing_sessions,
        count(*) filter (where is_final) as final_sessions
    from expected_sessions
    group by portfolio_id
),

final as (
    select
        per_portfolio.portfolio_id,
        case
            when per_portfolio.first_gap_date is null then per_portfolio.expected_session_date
            else (
                select max(sessions.session_date)
                from sessions
                where sessions.session_date < per_portfolio.first_gap_date
                    and sessions.session_date >= first_entries.first_entry_date
            )
        end as last_complete_date,
        per_portfolio.expected_session_date as expected_date,
        cast(per_portfolio.missing_sessions as integer) as missing_sessions,
        cast(per_portfolio.final_sessions as integer) as final_sessions
    from per_portfolio
    inner join first_entries on first_entries.portfolio_id = per_portfolio.portfolio_id
)

select * from final
