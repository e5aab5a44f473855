-- For each asked symbol: its stored profile (if any) and its last profile attempt.
select
    u.symbol,
    p.source,
    p.sector,
    p.is_etf,
    a.reason as attempt_reason,
    a.attempted_at
from unnest(cast(:s as text[])) as u (symbol)
left join raw.symbol_profiles as p on p.symbol = u.symbol
left join raw.symbol_profile_attempts as a on a.symbol = u.symbol
