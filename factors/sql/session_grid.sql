-- Every NYSE session from :back sessions before :first through :as_of.
select session_date
from raw.trading_sessions
where
    session_index >= (
        select first_session.session_index from raw.trading_sessions as first_session
        where first_session.session_date = :first
    ) - :back
    and session_date <= :as_of
order by session_index
