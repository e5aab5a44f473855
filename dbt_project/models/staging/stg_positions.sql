{#- A plain select, no CTEs: PostgreSQL inlines a view only when its query has no
    WITH, and only an inlined view lets the callers' lookups use the source's indexes. -#}
select
    position_id,
    portfolio_id,
    symbol,
    underlying_symbol,
    cast(quantity as double precision) as quantity,
    cast(entry_price as double precision) as entry_price,
    entry_date,
    exit_date,
    cast(exit_price as double precision) as exit_price,
    investment_class,
    investment_subtype,
    option_type,
    cast(strike as double precision) as strike,
    expiration,
    multiplier
from {{ source('raw', 'positions') }}
