-- The positions open on the report's session with their risk, largest |MV| first.
select
    v.position_id,
    v.symbol,
    v.quantity,
    v.price,
    v.price_source,
    v.market_value,
    v.daily_pnl,
    v.cumulative_pnl,
    v.is_symbol_unavailable,
    r.realized_vol_63d,
    r.risk_contribution
from marts.fct_position_values as v
left join marts.fct_position_risk as r
    on
    r.portfolio_id = v.portfolio_id
    and r.position_id = v.position_id
    and r.snapshot_date = v.snapshot_date
where v.portfolio_id = :pid and v.snapshot_date = :d and v.is_open
order by abs(v.market_value) desc, v.position_id
