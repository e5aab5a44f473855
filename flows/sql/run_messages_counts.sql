-- How many messages the run captured per audience and the cap, so `status` can say
-- how many older ones were dropped.
update raw.batch_runs
set stats = stats || jsonb_build_object('messages', cast(:counts as jsonb))
where run_id = :run_id;
