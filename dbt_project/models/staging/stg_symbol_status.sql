{#- A plain select, no CTEs: PostgreSQL inlines a view only when its query has no
    WITH, and only an inlined view lets the callers' lookups use the source's indexes. -#}
select
    symbol,
    status as symbol_status,
    reason as status_reason,
    last_attempt_at,
    covered_from,
    covered_to
from {{ source('raw', 'symbol_status') }}
