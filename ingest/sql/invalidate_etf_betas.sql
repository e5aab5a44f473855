-- A factor ETF's new or corrected return reaches every symbol's betas of those sessions.
delete from raw.symbol_factor_betas
where as_of_date between :lo and :hi
