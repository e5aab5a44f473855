-- `snapfolio export sectors`: one portfolio's sector exposures, by date then sector
-- (byte order).
select
    portfolio_id, snapshot_date, sector, long_value, short_value, gross_exposure,
    net_exposure, gross_weight, net_weight
from marts.fct_portfolio_sector_exposures
where portfolio_id = :portfolio_id
order by snapshot_date, sector collate "C"
