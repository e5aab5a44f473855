-- The report's session: the last stored snapshot on or before :as_of (the latest when
-- :as_of is null).
select max(snapshot_date) as session_date
from marts.fct_portfolio_snapshots
where
    portfolio_id = :pid
    and (cast(:as_of as date) is null or snapshot_date <= cast(:as_of as date))
