-- `snapfolio export stress`: one portfolio's stress results, by date then scenario
-- (byte order).
select
    portfolio_id, snapshot_date, scenario_id, direct_pnl, correlated_pnl, direct_return,
    correlated_return
from marts.fct_portfolio_stress_results
where portfolio_id = :portfolio_id
order by snapshot_date, scenario_id collate "C"
