-- Needed pairs that already hold some factor rows (half-filled: rare, e.g. a factor
-- added to the seed) lose those rows first, so that the insert below never conflicts.
delete from raw.symbol_factor_betas b
using unnest(cast(:symbols as text[]), cast(:days as date[])) as p (symbol, as_of_date)
where b.symbol = p.symbol and b.as_of_date = p.as_of_date and b.factor = any(:factors)
