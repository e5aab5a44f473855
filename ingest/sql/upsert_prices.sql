-- One INSERT ... ON CONFLICT from the COPY'd temp table. Unchanged rows are not
-- rewritten (so they restate nothing) and a provider row never replaces a manual one.
-- Returns one row per symbol written: min / max date and row count.
with written as (
    insert into raw.prices as p (symbol, price_date, close, adj_close, source, fetched_at)
    select
        symbol,
        price_date,
        close,
        adj_close,
        source,
        :now
    from incoming_prices
    order by symbol, price_date
    on conflict (symbol, price_date) do update
        set
            close = excluded.close,
            adj_close = excluded.adj_close,
            source = excluded.source,
            fetched_at = excluded.fetched_at
        where
        (p.source <> :manual or excluded.source = :manual)
        and (
            (p.close, p.adj_close) is distinct from (excluded.close, excluded.adj_close)
            or (excluded.source = :manual and p.source <> :manual)
        )
    returning p.symbol, p.price_date
)

select
    symbol,
    min(price_date) as first_date,
    max(price_date) as last_date,
    count(*) as n_rows
from written
group by symbol
order by symbol
