-- What was already asked of the providers, per symbol in scope.
select
    symbol,
    status,
    reason,
    last_attempt_at,
    covered_from,
    covered_to
from raw.symbol_status
where symbol = any(:s)
