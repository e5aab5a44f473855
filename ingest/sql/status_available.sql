-- Extend each symbol's covered range (always one contiguous range per symbol).
insert into raw.symbol_status as st
(symbol, status, reason, last_attempt_at, covered_from, covered_to)
select
    c.symbol,
    'available',
    c.reason,
    :now,
    c.f,
    c.t
from unnest(
        cast(:s as text[]), cast(:r as text[]), cast(:f as date[]), cast(:t as date[])
    ) as c (symbol, reason, f, t)
on conflict (symbol) do update set
    status = 'available',
    reason = excluded.reason,
    last_attempt_at = :now,
    covered_from = least(st.covered_from, excluded.covered_from),
    covered_to = greatest(st.covered_to, excluded.covered_to)
