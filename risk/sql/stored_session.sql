-- The portfolio's last session with a stored risk row on or before :as_of.
select max(snapshot_date) as snapshot_date
from marts.fct_portfolio_risk
where portfolio_id = :portfolio_id and snapshot_date <= :as_of
