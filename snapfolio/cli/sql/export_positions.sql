-- `snapfolio export positions`: one portfolio's position values, by date then position.
select
    portfolio_id, position_id, snapshot_date, symbol, quantity, price, price_source,
    market_value, daily_pnl, cumulative_pnl
from marts.fct_position_values
where portfolio_id = :portfolio_id
order by snapshot_date, position_id
