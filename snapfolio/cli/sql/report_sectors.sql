-- Sector exposures on the report's session, largest gross first.
select sector, long_value, short_value, gross_exposure, net_exposure, gross_weight, net_weight
from marts.fct_portfolio_sector_exposures
where portfolio_id = :pid and snapshot_date = :d
order by gross_exposure desc, sector asc
