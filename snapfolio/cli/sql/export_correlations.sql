-- `snapfolio export correlations`: the stored matrix of one portfolio's latest session,
-- by pair (byte order).
select as_of_date, symbol_a, symbol_b, correlation, n_obs
from marts.fct_position_correlations
where portfolio_id = :portfolio_id
order by as_of_date, symbol_a collate "C", symbol_b collate "C"
