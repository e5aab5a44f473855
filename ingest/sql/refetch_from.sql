-- Forget coverage from :d on (every symbol when :s is null), so the next ingest asks again.
update raw.symbol_status set
    covered_to = case when covered_from < :d then :prev end,
    covered_from = case when covered_from < :d then covered_from end
where
    covered_to >= :d
    and (cast(:s as text[]) is null or symbol = any(cast(:s as text[])))
