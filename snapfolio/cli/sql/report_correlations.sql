-- The stored correlation matrix (kept for each portfolio's latest session only).
select as_of_date, symbol_a, symbol_b, correlation, n_obs
from marts.fct_position_correlations
where portfolio_id = :pid and as_of_date = :d
order by symbol_a, symbol_b
