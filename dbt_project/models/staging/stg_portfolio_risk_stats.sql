select
    portfolio_id,
    snapshot_date,
    realized_vol_21d,
    realized_vol_63d,
    har_vol_1d,
    har_vol_21d,
    holdings_vol_63d,
    var_95_1d,
    cvar_95_1d,
    avg_pairwise_correlation,
    correlation_effective_positions
from {{ source('raw', 'portfolio_risk_stats') }}
