select
    portfolio_id,
    as_of_date,
    symbol_a,
    symbol_b,
    correlation,
    n_obs
from {{ source('raw', 'position_correlations') }}
