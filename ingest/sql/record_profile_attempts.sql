-- Symbols the providers were asked for and gave no complete profile: when and why
-- (the next fetch waits out the cool-off).
insert into raw.symbol_profile_attempts as a (symbol, reason, attempted_at)
select
    u.symbol,
    u.reason,
    :now
from unnest(cast(:s as text[]), cast(:r as text[])) as u (symbol, reason)
on conflict (symbol) do update set
    reason = excluded.reason,
    attempted_at = excluded.attempted_at
