-- The latest run that touched a portfolio: it was in the run's locked scope (not
-- skipped because another run held it), or the run onboarded it (one name or a list).
select runs.run_id
from raw.batch_runs as runs
where
    (runs.stats -> 'portfolio_states' ->> :name) not like 'skipped%'
    or runs.scope -> 'onboarding' @> to_jsonb(cast(:name as text))
order by runs.started_at desc
limit 1
