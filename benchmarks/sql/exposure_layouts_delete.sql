-- the daily increment's delete of the sessions lo..hi (delete+insert)
delete from layouts.{table} where snapshot_date >= :lo and snapshot_date <= :hi
