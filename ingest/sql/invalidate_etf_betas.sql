-- A factor ETF's new or corrected return reaches every symbol's betas of those sessions.
-- The key is (symbol, as_of_date, factor) and there is no index on the date alone: a
-- plain `where as_of_date between` scans every beta ever stored (7 M rows on a two-year
-- 1,000-portfolio book, on every daily run). So the symbols are walked through the key
-- (a loose index scan: one probe per distinct symbol) and each symbol's sessions are one
-- key range.
with recursive symbols as (
    (
        select betas.symbol
        from raw.symbol_factor_betas as betas
        order by betas.symbol
        limit 1
    )
    union all
    select (
        select betas.symbol
        from raw.symbol_factor_betas as betas
        where betas.symbol > symbols.symbol
        order by betas.symbol
        limit 1
    )
    from symbols
    where symbols.symbol is not null
)

delete from raw.symbol_factor_betas as betas
using symbols
where
    betas.symbol = symbols.symbol
    and betas.as_of_date between :lo and :hi
