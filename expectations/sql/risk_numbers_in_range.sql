-- risk_numbers_in_range
-- The risk numbers in scope (sessions from `since` through as_of) are in their ranges,
-- where defined (NULL means "not defined" and passes): every volatility (realized_vol_21d,
-- realized_vol_63d, har_vol_1d, har_vol_21d, holdings_vol_63d, and each position's
-- realized_vol_63d) >= 0 and finite; 0 < hhi <= 10,000; top_3_weight <= top_10_weight
-- <= 1 (1e-9 slack); var_95_1d <= cvar_95_1d; drawdown <= 0; max_drawdown <= drawdown.
-- One row per (portfolio, problem), with the sessions affected and the first bad value.
with scope as not materialized (
    -- the alias is GX's contract (expectations/checks.py), not used here
    select * from {batch} as run_scope  -- noqa: AL05
),

portfolios as (
    select portfolios.portfolio_id, portfolios.name
    from raw.portfolios as portfolios
    cross join scope
    where portfolios.active
        and (scope.portfolio_ids is null or portfolios.portfolio_id = any(scope.portfolio_ids))
),

risk as (
    select risk.*, portfolios.name as portfolio_name
    from marts.fct_portfolio_risk as risk
    inner join portfolios on portfolios.portfolio_id = risk.portfolio_id
    cross join scope
    where risk.snapshot_date <= scope.as_of
        and (scope.since is null or risk.snapshot_date >= scope.since)
),

volatilities as (
    select risk.portfolio_id, risk.portfolio_name, risk.snapshot_date, vols.measure, vols.measured
    from risk
    cross join
        lateral (
            values
            ('realized_vol_21d', risk.realized_vol_21d),
            ('realized_vol_63d', risk.realized_vol_63d),
            ('har_vol_1d', risk.har_vol_1d),
            ('har_vol_21d', risk.har_vol_21d),
            ('holdings_vol_63d', risk.holdings_vol_63d)
        ) as vols (measure, measured)
    union all
    select
        position_risk.portfolio_id,
        portfolios.name,
        position_risk.snapshot_date,
        'position realized_vol_63d' as measure,
        position_risk.realized_vol_63d as measured
    from marts.fct_position_risk as position_risk
    inner join portfolios on portfolios.portfolio_id = position_risk.portfolio_id
    cross join scope
    where position_risk.snapshot_date <= scope.as_of
        and (scope.since is null or position_risk.snapshot_date >= scope.since)
),

problems as (
    select
        portfolio_id,
        portfolio_name,
        snapshot_date,
        measure || ' < 0 or not finite' as problem,
        cast(measured as text) as bad_value
    from volatilities
    where measured is not null
        and not (measured >= 0 and measured < cast('Infinity' as double precision))
    union all
    select
        portfolio_id,
        portfolio_name,
        snapshot_date,
        'hhi outside (0, 10000]' as problem,
        cast(hhi as text) as bad_value
    from risk
    where hhi is not null and not (hhi > 0 and hhi <= 10000 * (1 + 1e-12))
    union all
    select
        portfolio_id,
        portfolio_name,
        snapshot_date,
        'top_3_weight > top_10_weight' as problem,
        format('%s > %s', top_3_weight, top_10_weight) as bad_value
    from risk
    where top_3_weight is not null and top_10_weight is not null
        and not (top_3_weight <= top_10_weight + 1e-9)
    union all
    select
        portfolio_id,
        portfolio_name,
        snapshot_date,
        'top_10_weight > 1' as problem,
        cast(top_10_weight as text) as bad_value
    from risk
    where top_10_weight is not null and not (top_10_weight <= 1 + 1e-9)
    union all
    select
        portfolio_id,
        portfolio_name,
        snapshot_date,
        'var_95_1d > cvar_95_1d' as problem,
        format('%s > %s', var_95_1d, cvar_95_1d) as bad_value
    from risk
    where var_95_1d is not null and cvar_95_1d is not null
        and not (var_95_1d <= cvar_95_1d + 1e-12)
    union all
    select
        portfolio_id,
        portfolio_name,
        snapshot_date,
        'drawdown > 0' as problem,
        cast(drawdown as text) as bad_value
    from risk
    where drawdown is not null and not (drawdown <= 1e-12)
    union all
    select
        portfolio_id,
        portfolio_name,
        snapshot_date,
        'max_drawdown > drawdown' as problem,
        format('%s > %s', max_drawdown, drawdown) as bad_value
    from risk
    where max_drawdown is not null and drawdown is not null
        and not (max_drawdown <= drawdown + 1e-12)
),

final as (
    select
        portfolio_id,
        portfolio_name,
        problem,
        count(*) as n,
        min(snapshot_date) as first_date,
        max(snapshot_date) as last_date,
        (array_agg(bad_value order by snapshot_date))[1] as first_value
    from problems
    group by portfolio_id, portfolio_name, problem
)

select
    final.*,
    format(
        'portfolio %s: %s on %s row(s) %s..%s (first: %s)',
        portfolio_name, problem, n, first_date, last_date, first_value
    ) as detail
from final
order by portfolio_name, problem
