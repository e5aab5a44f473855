{{ config(materialized='view') }}
{#- Live, per-portfolio watermark read straight from the snapshots (never a stored
    copy): the last session up to which every session is complete (macros/
    done_sessions.sql: session_is_complete), the session expected (as_of), and how many
    sessions are missing or incomplete. -#}

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
    select {{ as_of_date() }} as expected_date
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
        {{ session_is_complete('snapshots') }} as is_complete
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
        min(session_date) filter (where not is_complete) as first_gap_date,
        max(session_date) as expected_session_date,
        count(*) filter (where not is_complete) as missing_sessions
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
        cast(per_portfolio.missing_sessions as integer) as missing_sessions
    from per_portfolio
    inner join first_entries on first_entries.portfolio_id = per_portfolio.portfolio_id
)

select * from final
