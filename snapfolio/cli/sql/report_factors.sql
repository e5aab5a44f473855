-- The portfolio's factor exposures on every session up to the report's session.
select snapshot_date, factor, beta, dollar_exposure
from marts.fct_portfolio_factor_exposures
where portfolio_id = :pid and snapshot_date <= :d
order by snapshot_date, factor
