{#- This build's own scope row: raw.build_scope holds one row per dbt invocation in
    progress, keyed by build_id, and every connection of an invocation carries its id
    as the setting snapfolio.build_id (flows/dbt_runner.py). The view bakes in no id:
    each reader's session picks its own row, so concurrent builds never read each
    other's scope. Outside a build the setting is unset and a read fails loudly
    (current_setting without missing_ok) instead of building an empty scope.
    A plain select, no CTEs: PostgreSQL inlines a view only when its query has no
    WITH, and only an inlined view lets the callers' lookups use the source's indexes. -#}
select
    build_id,
    as_of,
    portfolio_ids
from {{ source('raw', 'build_scope') }}
where build_id = current_setting('snapfolio.build_id')
