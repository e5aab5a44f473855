select
    name,
    portfolio_id
from raw.portfolios
where active
order by portfolio_id
