-- The final sessions of the portfolios in scope through :a, per portfolio and symbol:
-- sessions whose snapshot is final (fct_portfolio_snapshots.is_final: incomplete only
-- for closes the providers were already asked for and did not have) and the symbols
-- whose missing close makes them so. What the run summary reports; they are not
-- rebuilt nor asked for again until a price for them arrives (a restatement).
with finals as (
    select snapshots.portfolio_id, snapshots.snapshot_date
    from marts.fct_portfolio_snapshots as snapshots
    where
        snapshots.portfolio_id = any(:ids)
        and snapshots.snapshot_date <= :a
        and snapshots.is_final
),

missing as (
    select finals.portfolio_id, finals.snapshot_date, position_values.symbol
    from finals
    inner join marts.fct_position_values as position_values
        on
        position_values.portfolio_id = finals.portfolio_id
        and position_values.snapshot_date = finals.snapshot_date
    where
        position_values.is_open
        and position_values.price_source = 'entry'
        and not position_values.is_symbol_unavailable
)

select
    portfolios.name,
    missing.symbol,
    min(missing.snapshot_date) as first_date,
    max(missing.snapshot_date) as last_date,
    count(distinct missing.snapshot_date) as sessions
from missing
inner join raw.portfolios as portfolios on portfolios.portfolio_id = missing.portfolio_id
group by portfolios.name, missing.symbol
order by portfolios.name, missing.symbol
