{{ config(indexes=[{'columns': ['symbol', 'session_index'], 'unique': true}]) }}
{#- For every symbol the work set needs and every session of the work range (from
    stale_price_sessions sessions before the earliest previous session: the var of
    dbt_project.yml), the last close on or before the session and how many sessions
    old it is. Set-based carry-forward: one window pass, no per-date loop.
    sessions_since_close is null when the close predates the range. -#}

with work_sessions as (
    select * from {{ ref('int_portfolio_work_sessions') }}
),

positions as (
    select * from {{ ref('int_positions') }}
),

sessions as not materialized (
    select * from {{ ref('stg_trading_sessions') }}
),

prices as not materialized (
    -- inlined where used, so each use is an index range scan on (symbol, price_date)
    select * from {{ ref('stg_prices') }}
),

price_range as (
    select
        min(previous_session_index) - {{ var('stale_price_sessions') }} as low_index,
        max(session_index) as high_index
    from work_sessions
),

range_bounds as (
    select
        price_range.low_index,
        price_range.high_index,
        low_session.session_date as low_date,
        high_session.session_date as high_date
    from price_range
    inner join sessions as low_session on low_session.session_index = price_range.low_index
    inner join sessions as high_session on high_session.session_index = price_range.high_index
),

needed_symbols as (
    select distinct positions.symbol
    from positions
    where positions.portfolio_id in (select distinct work_sessions.portfolio_id from work_sessions)
),

range_sessions as (
    select sessions.session_index, sessions.session_date
    from sessions
    inner join range_bounds
        on sessions.session_index between range_bounds.low_index and range_bounds.high_index
),

range_prices as (
    -- the date bounds make each symbol's read an index range scan of the work range,
    -- not of its whole price history
    select prices.symbol, range_sessions.session_index, prices.close
    from prices
    inner join needed_symbols on needed_symbols.symbol = prices.symbol
    cross join range_bounds
    inner join range_sessions on range_sessions.session_date = prices.price_date
    where prices.price_date between range_bounds.low_date and range_bounds.high_date
),

earlier_prices as (
    -- each symbol's last close before the range: one backward index probe per symbol
    select needed_symbols.symbol, last_before.close
    from needed_symbols
    cross join range_bounds
    cross join lateral (
        select prices.close
        from prices
        where prices.symbol = needed_symbols.symbol
            and prices.price_date < range_bounds.low_date
        order by prices.price_date desc
        limit 1
    ) as last_before
),

grid as (
    select
        needed_symbols.symbol,
        range_sessions.session_index,
        range_sessions.session_date,
        max(range_prices.session_index) over (
            partition by needed_symbols.symbol
            order by range_sessions.session_index
            rows between unbounded preceding and current row
        ) as last_close_index
    from needed_symbols
    cross join range_sessions
    left join range_prices
        on range_prices.symbol = needed_symbols.symbol
        and range_prices.session_index = range_sessions.session_index
),

final as (
    select
        grid.symbol,
        grid.session_index,
        grid.session_date,
        coalesce(last_price.close, earlier_prices.close) as last_close,
        grid.session_index - grid.last_close_index as sessions_since_close
    from grid
    left join range_prices as last_price
        on last_price.symbol = grid.symbol
        and last_price.session_index = grid.last_close_index
    left join earlier_prices on earlier_prices.symbol = grid.symbol
)

select * from final
