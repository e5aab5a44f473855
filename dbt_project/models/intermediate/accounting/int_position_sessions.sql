{#- One row per (position, work session) the position exists on (from its first
    session on, after its exit too), with the price lookups for the session and the
    previous session. -#}

with work_sessions as (
    select * from {{ ref('int_portfolio_work_sessions') }}
),

positions as (
    select * from {{ ref('int_positions') }}
),

symbol_session_prices as (
    select * from {{ ref('int_symbol_session_prices') }}
),

symbol_status as (
    select * from {{ ref('stg_symbol_status') }}
),

final as (
    select
        work_sessions.portfolio_id,
        positions.position_id,
        work_sessions.snapshot_date,
        work_sessions.previous_session_date,
        positions.symbol,
        positions.quantity,
        positions.entry_price,
        positions.entry_date,
        positions.exit_date,
        positions.exit_price,
        positions.multiplier,
        positions.first_session_index <= work_sessions.previous_session_index as existed_previous_session,
        current_price.last_close,
        current_price.sessions_since_close,
        previous_price.last_close as previous_last_close,
        previous_price.sessions_since_close as previous_sessions_since_close,
        coalesce(symbol_status.symbol_status = 'unavailable', false) as is_symbol_unavailable
    from work_sessions
    inner join positions
        on positions.portfolio_id = work_sessions.portfolio_id
        and positions.first_session_index <= work_sessions.session_index
    left join symbol_session_prices as current_price
        on current_price.symbol = positions.symbol
        and current_price.session_index = work_sessions.session_index
    left join symbol_session_prices as previous_price
        on previous_price.symbol = positions.symbol
        and previous_price.session_index = work_sessions.previous_session_index
    left join symbol_status on symbol_status.symbol = positions.symbol
)

select * from final
