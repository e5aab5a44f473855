{#- A plain select, no CTEs: PostgreSQL inlines a view only when its query has no
    WITH, and only an inlined view lets the callers' lookups use the source's indexes. -#}
select
    as_of,
    portfolio_ids
from {{ source('raw', 'build_scope') }}
