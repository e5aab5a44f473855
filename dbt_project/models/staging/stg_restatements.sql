{#- A plain select, no CTEs: PostgreSQL inlines a view only when its query has no
    WITH, and only an inlined view lets the callers' lookups use the source's indexes. -#}
select
    restatement_id,
    portfolio_id,
    from_date as restate_from_date,
    reason as restatement_reason,
    marked_at
from {{ source('raw', 'restatements') }}
