{# Live per-(portfolio, session) row count of marts.fct_position_factor_exposures, kept
   in marts.fct_position_factor_exposure_counts by statement-level triggers (transition
   tables) on every INSERT, DELETE, UPDATE and TRUNCATE of the mart, in the writer's own
   transaction: whoever changes the mart (dbt's delete+insert, the pre-hook, a
   re-onboarding's delete, a manual repair) changes the count with it. The work-set
   model compares it with position_count × factors instead of re-counting the whole
   exposure history every build, so that check costs one row per (portfolio, session),
   not twelve per open position.

   Run as the mart's post-hook on every build: the first build, a full refresh or a
   mart rebuilt outside dbt creates a table without the triggers, and then the counts
   are rebuilt from the mart (one full count) before the triggers are (re)attached. #}
{% macro exposure_counts_hook() -%}
{%- set counts = this.schema ~ '.' ~ this.identifier ~ '_counts' -%}
{%- set fn = this.schema ~ '.' ~ this.identifier ~ '_count' -%}
create table if not exists {{ counts }} (
    portfolio_id bigint not null,
    snapshot_date date not null,
    exposure_rows bigint not null,
    primary key (portfolio_id, snapshot_date)
);

create or replace function {{ fn }}_added() returns trigger language plpgsql as $fn$
begin
    insert into {{ counts }} as c (portfolio_id, snapshot_date, exposure_rows)
    select portfolio_id, snapshot_date, count(*) from added_rows group by portfolio_id, snapshot_date
    on conflict (portfolio_id, snapshot_date)
    do update set exposure_rows = c.exposure_rows + excluded.exposure_rows;
    return null;
end
$fn$;

create or replace function {{ fn }}_removed() returns trigger language plpgsql as $fn$
begin
    update {{ counts }} as c
    set exposure_rows = c.exposure_rows - removed.n
    from (
        select portfolio_id, snapshot_date, count(*) as n
        from removed_rows group by portfolio_id, snapshot_date
    ) as removed
    where c.portfolio_id = removed.portfolio_id and c.snapshot_date = removed.snapshot_date;
    return null;
end
$fn$;

create or replace function {{ fn }}_moved() returns trigger language plpgsql as $fn$
begin
    if exists (
        select 1 from (select portfolio_id, snapshot_date, count(*) as n from removed_rows
                       group by portfolio_id, snapshot_date) as o
        full join (select portfolio_id, snapshot_date, count(*) as n from added_rows
                   group by portfolio_id, snapshot_date) as a
          on a.portfolio_id = o.portfolio_id and a.snapshot_date = o.snapshot_date
        where a.n is distinct from o.n
    ) then
        update {{ counts }} as c
        set exposure_rows = c.exposure_rows - removed.n
        from (select portfolio_id, snapshot_date, count(*) as n from removed_rows
              group by portfolio_id, snapshot_date) as removed
        where c.portfolio_id = removed.portfolio_id and c.snapshot_date = removed.snapshot_date;
        insert into {{ counts }} as c (portfolio_id, snapshot_date, exposure_rows)
        select portfolio_id, snapshot_date, count(*) from added_rows group by portfolio_id, snapshot_date
        on conflict (portfolio_id, snapshot_date)
        do update set exposure_rows = c.exposure_rows + excluded.exposure_rows;
    end if;
    return null;
end
$fn$;

create or replace function {{ fn }}_truncated() returns trigger language plpgsql as $fn$
begin
    truncate {{ counts }};
    return null;
end
$fn$;

do $do$
begin
    if not exists (
        select 1 from pg_trigger
        where tgrelid = '{{ this }}'::regclass and tgname = 'exposure_counts_truncated'
    ) then
        -- a table without the triggers (first build, full refresh, rebuilt elsewhere):
        -- nothing has kept the counts, so recount it once
        truncate {{ counts }};
        insert into {{ counts }} (portfolio_id, snapshot_date, exposure_rows)
        select portfolio_id, snapshot_date, count(*) from {{ this }}
        group by portfolio_id, snapshot_date;
        create trigger exposure_counts_added after insert on {{ this }}
            referencing new table as added_rows
            for each statement execute function {{ fn }}_added();
        create trigger exposure_counts_removed after delete on {{ this }}
            referencing old table as removed_rows
            for each statement execute function {{ fn }}_removed();
        create trigger exposure_counts_moved after update on {{ this }}
            referencing old table as removed_rows new table as added_rows
            for each statement execute function {{ fn }}_moved();
        create trigger exposure_counts_truncated after truncate on {{ this }}
            for each statement execute function {{ fn }}_truncated();
    end if;
end
$do$;

analyze {{ counts }};
{%- endmacro %}
