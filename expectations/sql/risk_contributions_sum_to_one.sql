-- risk_contributions_sum_to_one
-- Where a portfolio's holdings back-cast has a variance (fct_portfolio_risk.
-- holdings_vol_63d not null and > 0, so the contributions are defined), the
-- risk_contribution of its fct_position_risk rows on that session add up to 1 within
-- 1e-6, and none of them is null. Sessions from `since` through as_of.
-- One row per portfolio, with the sessions affected and the worst sum.
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

defined as (
    select risk.portfolio_id, portfolios.name as portfolio_name, risk.snapshot_date
    from marts.fct_portfolio_risk as risk
    inner join portfolios on portfolios.portfolio_id = risk.portfolio_id
    cross join scope
    where risk.holdings_vol_63d > 0
        and risk.holdings_vol_63d < cast('Infinity' as double precision)
        and risk.snapshot_date <= scope.as_of
        and (scope.since is null or risk.snapshot_date >= scope.since)
),

sums as (
    select
        defined.portfolio_id,
        defined.portfolio_name,
        defined.snapshot_date,
        coalesce(sum(position_risk.risk_contribution), 0) as contribution_sum,
        count(position_risk.position_id) - count(position_risk.risk_contribution) as null_count
    from defined
    left join marts.fct_position_risk as position_risk
        on position_risk.portfolio_id = defined.portfolio_id
        and position_risk.snapshot_date = defined.snapshot_date
    group by defined.portfolio_id, defined.portfolio_name, defined.snapshot_date
),

broken as (
    select *
    from sums
    where not (abs(contribution_sum - 1) <= 1e-6) or null_count > 0  -- also true for NaN
),

final as (
    select
        portfolio_id,
        portfolio_name,
        count(*) as n,
        min(snapshot_date) as first_date,
        max(snapshot_date) as last_date,
        (array_agg(contribution_sum order by abs(contribution_sum - 1) desc nulls first))[1]
            as worst_sum,
        sum(null_count) as null_contributions
    from broken
    group by portfolio_id, portfolio_name
)

select
    final.*,
    format(
        'portfolio %s: risk contributions do not sum to 1 on %s session(s) %s..%s '
        '(worst sum %s, %s null contribution(s))',
        portfolio_name, n, first_date, last_date, worst_sum, null_contributions
    ) as detail
from final
order by portfolio_name
