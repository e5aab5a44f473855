-- Per symbol held by the portfolios in scope: the contiguous session range [lo, hi]
-- whose betas must be complete, i.e. the sessions it is held (an option counts as its
-- underlying; open from entry, before its exit or the first session after expiration,
-- through as_of) merged with the symbol's complete range from raw.symbol_beta_coverage
-- (when it is for the current factor set). Keeping the range contiguous (a gap between
-- two holding periods is filled too) keeps the coverage mark one range per symbol.
with positions as materialized (
    -- materialized: the expiration lookup runs once per position, not once per use
    select
        coalesce(p.underlying_symbol, p.symbol) as symbol,
        p.entry_date,
        raw.effective_exit_date(p.exit_date, p.expiration) as exit_date
    from raw.positions as p
    where p.portfolio_id = any(:ids) and p.entry_date <= :as_of
),

held as (
    select
        symbol, min(entry_date) as first_day,
        max(least(coalesce(exit_date - 1, :as_of), :as_of)) as last_day
    from positions
    where exit_date is null or exit_date > entry_date
    group by symbol
)

select
    held.symbol,
    least(held.first_day, c.covered_from) as lo,
    case when c.covered_through is null then held.last_day
        else greatest(held.last_day, least(c.covered_through, :as_of))
    end as hi,
    c.covered_from,
    c.covered_through
from held
left join raw.symbol_beta_coverage as c
    on c.symbol = held.symbol and c.factors = cast(:factors as text[])
order by held.symbol
