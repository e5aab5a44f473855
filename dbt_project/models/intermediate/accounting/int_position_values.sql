{#- The accounting (README "Accounting") in closed form, so any session can be recomputed alone:
    price = close on d, else the last close within the stale window (var
    stale_price_sessions, dbt_project.yml: stale), else the last known close or the
    entry price (entry); market value and cumulative P&L while open, realized P&L from
    the (effective, int_positions) exit on; daily P&L against the previous session (0
    on the first session the position exists). -#}
{%- set stale_sessions = var('stale_price_sessions') %}

with position_sessions as (
    select * from {{ ref('int_position_sessions') }}
),

priced as (
    select
        position_sessions.*,
        case
            when sessions_since_close <= {{ stale_sessions }} then last_close
            else coalesce(last_close, entry_price)
        end as price,
        case
            when sessions_since_close = 0 then 'close'
            when sessions_since_close <= {{ stale_sessions }} then 'stale'
            else 'entry'
        end as price_source,
        case
            when previous_sessions_since_close <= {{ stale_sessions }} then previous_last_close
            else coalesce(previous_last_close, entry_price)
        end as previous_price,
        exit_date is null or snapshot_date < exit_date as is_open,
        exit_date is not null and previous_session_date >= exit_date as was_exited_previous_session
    from position_sessions
),

with_pnl as (
    select
        priced.*,
        case
            when is_open then quantity * (price - entry_price) * multiplier
            else quantity * (exit_price - entry_price) * multiplier
        end as cumulative_pnl,
        case
            when not existed_previous_session then 0
            when was_exited_previous_session then quantity * (exit_price - entry_price) * multiplier
            else quantity * (previous_price - entry_price) * multiplier
        end as previous_cumulative_pnl
    from priced
),

final as (
    select
        portfolio_id,
        position_id,
        snapshot_date,
        symbol,
        quantity,
        price,
        price_source,
        case when is_open then quantity * price * multiplier else 0 end as market_value,
        case
            when existed_previous_session then cumulative_pnl - previous_cumulative_pnl
            else 0
        end as daily_pnl,
        cumulative_pnl,
        previous_cumulative_pnl,
        multiplier,
        is_open,
        is_symbol_unavailable
    from with_pnl
)

select * from final
