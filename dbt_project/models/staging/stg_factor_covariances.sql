select
    as_of_date,
    factor_a,
    factor_b,
    covariance,
    correlation
from {{ source('raw', 'factor_covariances') }}
