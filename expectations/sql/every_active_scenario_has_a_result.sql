-- every_active_scenario_has_a_result
-- Every active scenario of raw_seeds.stress_scenarios (a scenario is active when its
-- rows say so) has a row in marts.fct_portfolio_stress_results on every snapshot in
-- scope (sessions from `since` through as_of).
-- One row per portfolio, with the sessions and scenarios affected.
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

active_scenarios as (
    select scenario_id
    from raw_seeds.stress_scenarios
    group by scenario_id
    having bool_or(active)
),

missing as (
    select
        snapshots.portfolio_id,
        portfolios.name as portfolio_name,
        snapshots.snapshot_date,
        active_scenarios.scenario_id
    from marts.fct_portfolio_snapshots as snapshots
    inner join portfolios on portfolios.portfolio_id = snapshots.portfolio_id
    cross join scope
    cross join active_scenarios
    where snapshots.snapshot_date <= scope.as_of
        and (scope.since is null or snapshots.snapshot_date >= scope.since)
        and not exists (
            select 1
            from marts.fct_portfolio_stress_results as results
            where results.portfolio_id = snapshots.portfolio_id
                and results.snapshot_date = snapshots.snapshot_date
                and results.scenario_id = active_scenarios.scenario_id
        )
),

final as (
    select
        portfolio_id,
        portfolio_name,
        count(*) as n,
        count(distinct snapshot_date) as sessions,
        min(snapshot_date) as first_date,
        max(snapshot_date) as last_date,
        string_agg(distinct scenario_id, ', ') as scenarios
    from missing
    group by portfolio_id, portfolio_name
)

select
    final.*,
    format(
        'portfolio %s: %s missing stress result(s) on %s session(s) %s..%s (scenarios: %s)',
        portfolio_name, n, sessions, first_date, last_date, scenarios
    ) as detail
from final
order by portfolio_name
