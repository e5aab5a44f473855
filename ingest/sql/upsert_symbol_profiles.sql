-- One upsert of profiles; a non-manual row never replaces a manual one and an
-- unchanged row is not rewritten. Returns each row written with what it replaced
-- (had_row false: there was no stored row), so the caller can tell changed sectors.
with incoming as (
    select *
    from unnest(
            cast(:s as text[]), cast(:n as text[]), cast(:sec as text[]),
            cast(:ind as text[]), cast(:etf as boolean[]), cast(:src as text[])
        ) as u (symbol, name, sector, industry, is_etf, source)
),

previous as (
    select
        p.symbol,
        p.sector,
        p.is_etf
    from raw.symbol_profiles as p
    inner join incoming on incoming.symbol = p.symbol
    for update of p
),

written as (
    insert into raw.symbol_profiles as p (
        symbol, name, sector, industry, is_etf, source, updated_at
    )
    select
        symbol,
        name,
        sector,
        industry,
        is_etf,
        source,
        :now
    from incoming
    order by symbol
    on conflict (symbol) do update
        set
            name = excluded.name,
            sector = excluded.sector,
            industry = excluded.industry,
            is_etf = excluded.is_etf,
            source = excluded.source,
            updated_at = excluded.updated_at
        where
        (p.source <> :manual or excluded.source = :manual)
        and (p.name, p.sector, p.industry, p.is_etf, p.source)
        is distinct from
        (excluded.name, excluded.sector, excluded.industry, excluded.is_etf, excluded.source)
    returning p.symbol, p.sector, p.is_etf
)

select
    written.symbol,
    written.sector,
    written.is_etf,
    previous.symbol is not null as had_row,
    previous.sector as old_sector,
    previous.is_etf as old_is_etf
from written
left join previous on previous.symbol = written.symbol
order by written.symbol
