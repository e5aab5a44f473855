{{ config(materialized='table', unlogged=true, post_hook=["analyze {{ this }}"]) }}
{#- Positions with the facts the accounting needs: the first session a position exists
    on, and its effective exit. An option with no exit closes at expiration: from the
    first session after expiry it is valued at its intrinsic value on the last close of
    the underlying on or before expiry (entry price if the underlying has no close). -#}

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

expiry_settlement as (
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
            where prices.symbol = with_first_session.underlying_symbol
              and prices.price_date <= with_first_session.expiration
            order by prices.price_date desc
            limit 1
        ) as underlying_close
    from with_first_session
    where with_first_session.expiration is not null
      and with_first_session.exit_date is null
),

final as (
    select
        p.position_id,
        p.portfolio_id,
        p.symbol,
        p.underlying_symbol,
        p.quantity,
        p.entry_price,
        p.entry_date,
        p.first_session_index,
        coalesce(p.exit_date, e.settle_date) as exit_date,
        coalesce(
            p.exit_price,
            case
                when e.settle_date is null then null
                when e.underlying_close is null then p.entry_price
                when p.option_type = 'CALL' then greatest(e.underlying_close - p.strike, 0)
                else greatest(p.strike - e.underlying_close, 0)
            end
        ) as exit_price,
        p.multiplier,
        p.investment_class,
        p.option_type
    from with_first_session as p
    left join expiry_settlement as e on e.position_id = p.position_id
)

select * from final
