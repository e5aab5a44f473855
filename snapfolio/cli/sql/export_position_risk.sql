-- `snapfolio export position-risk`: one portfolio's position risk rows, by date then
-- position.
select portfolio_id, position_id, snapshot_date, symbol, realized_vol_63d, risk_contribution
from marts.fct_position_risk
where portfolio_id = :portfolio_id
order by snapshot_date, position_id
