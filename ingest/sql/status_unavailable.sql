-- Symbols no provider had any data for: recorded once, with the reason.
insert into raw.symbol_status as st (symbol, status, reason, last_attempt_at)
select
    u.symbol,
    'unavailable',
    u.reason,
    :now
from unnest(cast(:s as text[]), cast(:r as text[])) as u (symbol, reason)
on conflict (symbol) do update set
    status = 'unavailable',
    reason = excluded.reason,
    last_attempt_at = :now
