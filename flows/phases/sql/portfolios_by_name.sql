select
    name,
    portfolio_id
from raw.portfolios
where name = any(:n)
