{{ config(post_hook=["analyze {{ this }}"]) }}
{#- Positions with the facts the accounting needs: the first session a position exists
    on, and its effective exit. This model is the one owner of the effective exit in
    dbt: every model reads exit_date and exit_price from here, never from stg_positions.
      exit_date   the position's exit date; for an option with no exit, the first
                  session after its expiration (null while none is in the calendar)
      exit_price  the position's exit price; for such an option its intrinsic value,
                  max(0, underlying − strike) for a call, max(0, strike − underlying)
                  for a put, on the underlying's last close on or before expiration
                  (the entry price when the underlying has no close)
    From exit_date on the position is closed (int_position_values: market value 0,
    cumulative P&L realized at exit_price). -#}

with positions as (
    select * from {{ ref('stg_positions') }}
),

sessions as not materialized (
    select * from {{ ref('stg_trading_sessions') }}
),

prices as not materialized (
    select * from {{ ref('stg_prices') }}
),

with_first_session as (
    select
        positions.*,
        (
            -- session_index is dense and ascending by date: the first session on or
            -- after entry is the smallest index there
            select sessions.session_index
            from sessions
            where sessions.session_date >= positions.entry_date
            order by sessions.session_date
            limit 1
        ) as first_session_index
    from positions
),

expiry_settlements as (
    -- options with no exit: settled on the first session after expiration
    select
        with_first_session.position_id,
        (
            select sessions.session_date
            from sessions
            where sessions.session_date > with_first_session.expiration
            order by sessions.session_date
            limit 1
        ) as settle_date,
        (
            select prices.close
            from prices
            where
                prices.symbol = with_first_session.underlying_symbol
                and prices.price_date <= with_first_session.expiration
            order by prices.price_date desc
            limit 1
        ) as underlying_close
    from with_first_session
    where
        with_first_session.expiration is not null
        and with_first_session.exit_date is null
),

final as (
    select
        with_first_session.position_id,
        with_first_session.portfolio_id,
        with_first_session.symbol,
        with_first_session.underlying_symbol,
        with_first_session.quantity,
        with_first_session.entry_price,
        with_first_session.entry_date,
        with_first_session.first_session_index,
        coalesce(with_first_session.exit_date, expiry_settlements.settle_date) as exit_date,
        coalesce(
            with_first_session.exit_price,
            case
                when expiry_settlements.settle_date is null then null
                when expiry_settlements.underlying_close is null then with_first_session.entry_price
                when with_first_session.option_type = 'CALL'
                    then greatest(expiry_settlements.underlying_close - with_first_session.strike, 0)
                else greatest(with_first_session.strike - expiry_settlements.underlying_close, 0)
            end
        ) as exit_price,
        with_first_session.multiplier,
        with_first_session.investment_class,
        with_first_session.option_type
    from with_first_session
    left join expiry_settlements
        on expiry_settlements.position_id = with_first_session.position_id
)

select * from final
