select
    portfolio_id,
    min(from_date) as from_date
from raw.risk_marks
where portfolio_id = any(:ids)
group by portfolio_id
