-- The latest finished batch run whose scope covered the portfolio (all, or by name).
select
    run_id,
    kind,
    status,
    as_of,
    started_at,
    finished_at,
    error_summary,
    stats -> 'checks' as checks,
    stats -> 'warnings' as warnings
from raw.batch_runs
where
    status <> 'running'
    and (
        scope -> 'portfolios' = to_jsonb(cast('all' as text))
        or scope -> 'portfolios' @> to_jsonb(cast(:name as text))
    )
order by started_at desc
limit 1
