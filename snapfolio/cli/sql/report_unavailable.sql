-- The portfolio's symbols (own or underlying) that a provider could not price.
select distinct st.symbol, st.reason, st.last_attempt_at
from raw.positions as p
inner join raw.symbol_status as st
    on st.symbol = p.symbol or st.symbol = p.underlying_symbol
where p.portfolio_id = :pid and st.status = 'unavailable'
order by st.symbol
