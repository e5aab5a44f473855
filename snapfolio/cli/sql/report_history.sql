-- Every snapshot of the portfolio up to the report's session with its risk row.
select
    s.snapshot_date,
    s.equity,
    s.initial_equity,
    s.daily_pnl,
    s.daily_return,
    s.cumulative_pnl,
    s.long_value,
    s.short_value,
    s.gross_exposure,
    s.net_exposure,
    s.cash,
    s.position_count,
    s.is_complete,
    r.realized_vol_21d,
    r.realized_vol_63d,
    r.har_vol_1d,
    r.har_vol_21d,
    r.holdings_vol_63d,
    r.var_95_1d,
    r.cvar_95_1d,
    r.drawdown,
    r.max_drawdown,
    r.hhi,
    r.effective_num_positions,
    r.top_3_weight,
    r.top_10_weight,
    r.avg_pairwise_correlation,
    r.correlation_effective_positions,
    r.worst_stress_scenario,
    r.worst_stress_pnl
from marts.fct_portfolio_snapshots as s
left join marts.fct_portfolio_risk as r
    on r.portfolio_id = s.portfolio_id and r.snapshot_date = s.snapshot_date
where s.portfolio_id = :pid and s.snapshot_date <= :d
order by s.snapshot_date
