-- Mark each portfolio whose computed history a changed price can affect.
--
-- A position is affected from max(first changed date, its entry) when that is within
-- the portfolio's computed history, before the position's exit, and the change either
-- reaches its sessions (valuation + stale window + beta windows) or is the last known
-- close it falls back on (no stored close between the change and its entry). A factor
-- ETF change affects every position through the betas.
with changed as (
    select
        c.symbol,
        c.lo,
        c.hi,
        c.reach,
        c.symbol = any(cast(:etfs as text[])) as is_etf
    from unnest(
            cast(:s as text[]), cast(:lo as date[]), cast(:hi as date[]), cast(:reach as date[])
        ) as c (symbol, lo, hi, reach)
),

computed as (
    -- each portfolio's last stored session: one backward index probe each, not a scan
    -- of the whole snapshot history
    select
        portfolios.portfolio_id,
        last_snapshot.last_date
    from raw.portfolios as portfolios
    cross join
        lateral (
            select max(s.snapshot_date) as last_date
            from marts.fct_portfolio_snapshots as s
            where s.portfolio_id = portfolios.portfolio_id
        ) as last_snapshot
    where last_snapshot.last_date is not null
),

relevant as (
    -- a change after every stored session (the daily case) restates nothing
    select changed.*
    from changed
    where changed.lo <= (select max(computed.last_date) from computed)
),

held as (
    select
        pos.*,
        pos.symbol as held_symbol
    from raw.positions as pos
    union all
    select
        pos.*,
        pos.underlying_symbol
    from raw.positions as pos
    where pos.underlying_symbol is not null
),

candidates as (
    -- the symbol's own positions (equi-join) and, for a factor ETF, all of them
    select
        c.*,
        pos.portfolio_id,
        pos.entry_date,
        pos.exit_date,
        pos.expiration,
        true as own_symbol
    from relevant as c
    inner join held as pos on pos.held_symbol = c.symbol
    union all
    select
        c.*,
        pos.portfolio_id,
        pos.entry_date,
        pos.exit_date,
        pos.expiration,
        false
    from relevant as c
    cross join raw.positions as pos
    where c.is_etf
),

hits as (
    select
        c.portfolio_id,
        greatest(c.lo, c.entry_date) as from_date
    from candidates as c
    inner join computed on computed.portfolio_id = c.portfolio_id
    where
        greatest(c.lo, c.entry_date) <= computed.last_date
        and c.lo <= coalesce(least(c.exit_date, c.expiration), cast('infinity' as date))
        and (
            c.reach >= c.entry_date
            or (
                c.own_symbol and not exists (
                    select 1 from raw.prices as p
                    where
                        p.symbol = c.symbol
                        and p.price_date > c.hi and p.price_date <= c.entry_date
                )
            )
        )
)

insert into raw.restatements (portfolio_id, from_date, reason)
select
    portfolio_id,
    min(from_date),
    'prices inserted or corrected'
from hits
group by portfolio_id
