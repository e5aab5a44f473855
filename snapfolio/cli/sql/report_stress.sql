-- Stress results on the report's session with the scenarios' names, worst first.
with scenarios as (
    select distinct on (scenario_id) scenario_id, name, category
    from raw_seeds.stress_scenarios
    order by scenario_id, name
)

select
    r.scenario_id,
    sc.name,
    sc.category,
    r.direct_pnl,
    r.correlated_pnl,
    r.direct_return,
    r.correlated_return
from marts.fct_portfolio_stress_results as r
left join scenarios as sc on sc.scenario_id = r.scenario_id
where r.portfolio_id = :pid and r.snapshot_date = :d
order by coalesce(r.correlated_pnl, r.direct_pnl), r.scenario_id
