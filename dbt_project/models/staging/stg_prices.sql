{#- A plain select, no CTEs: PostgreSQL inlines a view only when its query has no
    WITH, and only an inlined view lets the callers' lookups use the source's indexes. -#}
select
    symbol,
    price_date,
    close,
    adj_close,
    source as price_provider,
    fetched_at
from {{ source('raw', 'prices') }}
