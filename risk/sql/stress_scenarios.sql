-- The stress scenario seed (dbt), every row; the risk code keeps the active ones.
select
    scenario_id,
    factor,
    shock,
    active
from raw_seeds.stress_scenarios
