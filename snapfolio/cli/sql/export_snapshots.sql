-- `snapfolio export snapshots`: one portfolio's snapshots, the mart's contract columns.
select
    portfolio_id, snapshot_date, equity, long_value, short_value, gross_exposure,
    net_exposure, cash, daily_pnl, daily_return, cumulative_pnl, position_count,
    is_complete
from marts.fct_portfolio_snapshots
where portfolio_id = :portfolio_id
order by snapshot_date
