{#- A plain select, no CTEs: PostgreSQL inlines a view only when its query has no
    WITH, and only an inlined view lets the callers' lookups use the source's indexes. -#}
select
    portfolio_id,
    name as portfolio_name,
    cast(initial_equity as double precision) as initial_equity,
    equity_source,
    active as is_active,
    created_at
from {{ source('raw', 'portfolios') }}
