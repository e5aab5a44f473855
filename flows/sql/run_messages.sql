-- A run's stored messages, oldest first.
select
    logged_at,
    phase,
    level,
    audience,
    logger,
    message
from raw.run_messages
where run_id = :run_id
order by seq
