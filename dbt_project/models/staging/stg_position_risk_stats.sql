select
    portfolio_id,
    snapshot_date,
    position_id,
    realized_vol_63d,
    risk_contribution
from {{ source('raw', 'position_risk_stats') }}
