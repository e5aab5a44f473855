select min(from_date) from raw.restatements
where portfolio_id = any(:ids)
