-- The gate's question on the sessions lo..hi, per layout: open position x factor rows
-- missing, or without a beta and without a reason. {exposures}: a long-form relation.
select count(*)
from marts.fct_position_values as position_values
cross join raw_seeds.factor_definitions as factors
left join {exposures} as exposures
    on exposures.portfolio_id = position_values.portfolio_id
    and exposures.snapshot_date = position_values.snapshot_date
    and exposures.position_id = position_values.position_id
    and exposures.factor = factors.factor
where position_values.is_open
    and position_values.snapshot_date >= :lo and position_values.snapshot_date <= :hi
    and (exposures.position_id is null or (exposures.beta is null and exposures.exposure_reason is null))
