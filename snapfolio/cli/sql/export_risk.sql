-- `snapfolio export risk`: one portfolio's risk row per snapshot, the mart's contract
-- columns, by date.
select
    portfolio_id, snapshot_date, realized_vol_21d, realized_vol_63d, har_vol_1d,
    har_vol_21d, holdings_vol_63d, var_95_1d, cvar_95_1d, drawdown, max_drawdown, hhi,
    effective_num_positions, top_3_weight, top_10_weight, avg_pairwise_correlation,
    correlation_effective_positions, worst_stress_scenario, worst_stress_pnl
from marts.fct_portfolio_risk
where portfolio_id = :portfolio_id
order by snapshot_date
