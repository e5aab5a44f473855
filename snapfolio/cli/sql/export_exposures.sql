-- `snapfolio export exposures`: one portfolio's position factor exposures, by date,
-- position, then factor (byte order).
select portfolio_id, position_id, snapshot_date, symbol, factor, beta, exposure_status
from marts.fct_position_factor_exposures
where portfolio_id = :portfolio_id
order by snapshot_date, position_id, factor collate "C"
