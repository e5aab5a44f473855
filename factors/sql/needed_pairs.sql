-- The sessions of each span outside its covered range (at most two pieces per symbol),
-- less those already holding every factor's row: index range scans over the new
-- sessions only, so a daily run reads one session per symbol, whatever the history.
with spans as (
    select * from unnest(
            cast(:symbols as text[]), cast(:lo as date[]), cast(:hi as date[]),
            cast(:cf as date[]), cast(:ct as date[]))
            as t (symbol, lo, hi, cf, ct)
),

pieces as (
    select symbol, lo, hi from spans
    where cf is null
    union all
    select symbol, lo, cf - 1 from spans
    where cf is not null and lo < cf
    union all
    select symbol, ct + 1, hi from spans
    where cf is not null and hi > ct
),

needed as (
    select pieces.symbol, s.session_date
    from pieces
    inner join raw.trading_sessions as s on s.session_date between pieces.lo and pieces.hi
),

have as (
    -- lateral: one index range scan per piece, whatever the planner guesses for the
    -- ranges (a plain join was hashed against a scan of the whole beta table)
    select pieces.symbol, b.as_of_date, b.n
    from pieces
    cross join lateral (
        select b.as_of_date, count(*) as n
        from raw.symbol_factor_betas as b
        where b.symbol = pieces.symbol
            and b.as_of_date between pieces.lo and pieces.hi
            and b.factor = any(:factors)
        group by b.as_of_date
    ) as b
)

select needed.symbol, needed.session_date - date '1970-01-01' as day, coalesce(have.n, 0) as have
from needed
left join have
    on have.symbol = needed.symbol and have.as_of_date = needed.session_date
where coalesce(have.n, 0) < :n_factors
order by needed.symbol, needed.session_date
