-- prices_positive
-- Every stored close is a positive finite number, and so is adj_close when present: a
-- zero or negative price would silently value positions at nothing. (NaN passes
-- PostgreSQL's "close > 0" check constraint, so it is tested here.)
-- Scoped to the run: the symbols the portfolios in scope hold (an option's underlying
-- too) and the factor ETFs (every beta uses them), so one bad price row flags the
-- portfolios that hold it, not every run of the book. `snapfolio check` (no portfolio
-- scope) reads every held symbol. One row per symbol, with the portfolios that hold it.
with scope as not materialized (
    -- the alias is GX's contract (expectations/checks.py), not used here
    select * from {batch} as run_scope  -- noqa: AL05
),

bad_prices as (
    select prices.symbol, prices.price_date, prices.close, prices.adj_close
    from raw.prices as prices
    cross join scope
    where not (prices.close > 0 and prices.close < cast('Infinity' as double precision))
        or prices.close is null
        or (
            prices.adj_close is not null
            and not (prices.adj_close > 0 and prices.adj_close < cast('Infinity' as double precision))
        )
),

holders as (
    select positions.symbol_held as symbol, string_agg(distinct portfolios.name, ', ') as portfolios
    from (
        select portfolio_id, symbol as symbol_held from raw.positions
        union
        select portfolio_id, underlying_symbol from raw.positions
        where underlying_symbol is not null
    ) as positions
    inner join raw.portfolios as portfolios on portfolios.portfolio_id = positions.portfolio_id
    cross join scope
    where scope.portfolio_ids is null or portfolios.portfolio_id = any(scope.portfolio_ids)
    group by positions.symbol_held
),

factor_etfs as (
    select distinct regexp_split_to_table(definitions.regressors, '[ -]+') as symbol
    from raw_seeds.factor_definitions as definitions
),

final as (
    select
        bad_prices.symbol,
        count(*) as n,
        min(bad_prices.price_date) as first_date,
        max(bad_prices.price_date) as last_date,
        (array_agg(bad_prices.close order by bad_prices.price_date))[1] as first_close,
        (array_agg(bad_prices.adj_close order by bad_prices.price_date))[1] as first_adj_close,
        holders.portfolios
    from bad_prices
    left join holders on holders.symbol = bad_prices.symbol
    where
        holders.symbol is not null
        or bad_prices.symbol in (select factor_etfs.symbol from factor_etfs)
    group by bad_prices.symbol, holders.portfolios
)

select
    final.*,
    format(
        'symbol %s: %s non-positive price(s) %s..%s (first close %s, adj_close %s); held by %s',
        symbol, n, first_date, last_date, first_close, coalesce(cast(first_adj_close as text), 'null'),
        coalesce(portfolios, 'no portfolio')
    ) as detail
from final
order by symbol
