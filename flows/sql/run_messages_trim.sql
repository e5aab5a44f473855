-- Keep only the newest :cap messages of one audience of a run (the cap of
-- flows.messages); runs only when more than :cap were captured.
delete from raw.run_messages as m
where
    m.run_id = :run_id
    and m.audience = :audience
    and m.seq < (
        select min(newest.seq)
        from (
            select kept.seq
            from raw.run_messages as kept
            where kept.run_id = :run_id and kept.audience = :audience
            order by kept.seq desc
            limit :cap
        ) as newest
    );
