create temp table if not exists incoming_prices (
    symbol text,
    price_date date,
    close double precision,
    adj_close double precision,
    source text
) on commit drop
