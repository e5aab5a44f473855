select
    symbol,
    name as symbol_name,
    sector,
    industry,
    is_etf,
    source as profile_source,
    updated_at
from {{ source('raw', 'symbol_profiles') }}
