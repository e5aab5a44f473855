-- Per symbol the portfolios in scope hold (an option adds its underlying): the first
-- entry and the last session a position needs it (as_of, or its exit / expiry).
select
    held.symbol,
    min(held.entry_date) as first_entry,
    least(max(coalesce(least(held.exit_date, held.expiration), :as_of)), :as_of) as last_needed
from (
    select
        positions.symbol,
        positions.entry_date,
        positions.exit_date,
        positions.expiration
    from raw.positions as positions
    where positions.portfolio_id = any(:ids)
    union all
    select
        positions.underlying_symbol,
        positions.entry_date,
        positions.exit_date,
        positions.expiration
    from raw.positions as positions
    where positions.portfolio_id = any(:ids) and positions.underlying_symbol is not null
) as held
group by held.symbol
