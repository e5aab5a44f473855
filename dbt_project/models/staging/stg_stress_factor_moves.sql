select
    as_of_date,
    scenario_id,
    factor,
    implied_move
from {{ source('raw', 'stress_factor_moves') }}
