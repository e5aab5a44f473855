-- `snapfolio export exposures` on a long-form relation: one portfolio, sorted
select portfolio_id, position_id, snapshot_date, symbol, factor, beta, exposure_status
from {exposures}
where portfolio_id = :portfolio_id
order by snapshot_date, position_id, factor collate "C"
