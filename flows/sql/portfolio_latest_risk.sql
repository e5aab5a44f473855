-- The risk numbers and market beta of each portfolio's latest session (given as
-- parallel arrays of portfolio ids and dates).
select
    latest.portfolio_id,
    risk.realized_vol_63d,
    risk.har_vol_21d,
    risk.var_95_1d,
    risk.top_3_weight,
    risk.worst_stress_scenario,
    risk.worst_stress_pnl,
    beta.beta as market_beta
from unnest(cast(:ids as bigint[]), cast(:days as date[])) as latest (portfolio_id, snapshot_date)
left join marts.fct_portfolio_risk as risk
    on risk.portfolio_id = latest.portfolio_id and risk.snapshot_date = latest.snapshot_date
left join marts.fct_portfolio_factor_exposures as beta
    on
    beta.portfolio_id = latest.portfolio_id
    and beta.snapshot_date = latest.snapshot_date
    and beta.factor = 'market_beta'
