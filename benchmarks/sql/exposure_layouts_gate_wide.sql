-- The gate's question on a vector layout: every open position-session of lo..hi has a
-- vector row with every factor, and a reason where a factor has no beta row.
select count(*)
from marts.fct_position_values as position_values
left join layouts.{table} as vectors
    on vectors.portfolio_id = position_values.portfolio_id
    and vectors.snapshot_date = position_values.snapshot_date
    and vectors.position_id = position_values.position_id
where position_values.is_open
    and position_values.snapshot_date >= :lo and position_values.snapshot_date <= :hi
    and (
        vectors.position_id is null
        or cardinality(vectors.betas) <> (select count(*) from raw_seeds.factor_definitions)
        or (array_position(vectors.n_obs, null) is not null and vectors.unavailable_reason is null)
    )
