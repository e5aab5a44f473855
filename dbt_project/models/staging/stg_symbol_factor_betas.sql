{#- A plain select, no CTEs: PostgreSQL inlines a view only when its query has no
    WITH, and only an inlined view lets the callers' lookups use the source's indexes. -#}
select
    symbol,
    as_of_date,
    factor,
    beta,
    r_squared,
    n_obs,
    computed_at
from {{ source('raw', 'symbol_factor_betas') }}
