{# Live per-(portfolio, session) row count of the long form marts.fct_position_factor_exposures
   (the rows its vector store marts_store.fct_position_exposure_vectors stands for:
   macros/factor_vectors.sql vector_exposure_rows), kept in
   marts.fct_position_factor_exposures_counts so that the work-set model can compare
   it with position_count × factors without re-reading the exposure history every
   build: that check then costs one row per (portfolio, session).

   Who keeps it exact:
   * dbt itself: this post-hook sets the count of every session the build (re)wrote
     from the build's own rows (int_position_factor_exposures: exactly the rows the
     store just received), in the model's transaction;
   * statement-level triggers (transition tables) on DELETE, UPDATE and TRUNCATE of the
     store, in the writer's transaction: the pre-hook's and dbt's deletes, a
     re-onboarding's delete, a manual repair (through the long-form view's INSTEAD OF
     triggers too). Bulk INSERTs are not triggered (a transition table of a backfill
     chunk costs more than the insert's own index work); rows inserted by something
     other than dbt are therefore not counted,
     which can only make a session look short and be rebuilt once: the safe side.
   The first build, a full refresh or a mart rebuilt outside dbt has no triggers yet:
   then the counts are rebuilt from the mart (one full count) and the triggers attached.

   DDL only when something is missing or differs. Creating or replacing a trigger
   (or dropping one) takes an ACCESS EXCLUSIVE lock on the mart, and two builds of
   disjoint portfolios (shards) write it at the same time: a build's hook waiting for
   the other's insert while holding its own would block it or deadlock, and two
   concurrent `create or replace function` of one function fail ("tuple concurrently
   updated"). So the hook compares the functions' stored source with this project's
   and looks the triggers up in the catalog (no lock on the mart), and (re)creates only
   what is missing or changed: the first build, a full refresh and a project change,
   which run alone (the project rebuild holds the dbt project lock exclusively,
   snapfolio/core/locks.py), or a table rebuilt outside dbt. A normal build runs no
   DDL here. A changed trigger definition (not its function) needs a new trigger
   name. #}
{% macro exposure_counts_hook() -%}
{%- set counts = 'marts.fct_position_factor_exposures_counts' -%}
{%- set fn = this.schema ~ '.' ~ this.identifier ~ '_count' -%}
{%- set n = vector_exposure_rows('r') -%}
do $do$
declare
    removed_src constant text := $src$
begin
    update {{ counts }} as c
    set exposure_rows = c.exposure_rows - removed.n
    from (
        select r.portfolio_id, r.snapshot_date, sum({{ n }}) as n
        from removed_rows as r group by r.portfolio_id, r.snapshot_date
    ) as removed
    where c.portfolio_id = removed.portfolio_id and c.snapshot_date = removed.snapshot_date;
    return null;
end
$src$;
    moved_src constant text := $src$
begin
    if exists (
        select 1 from (select r.portfolio_id, r.snapshot_date, sum({{ n }}) as n from removed_rows as r
                       group by r.portfolio_id, r.snapshot_date) as o
        full join (select r.portfolio_id, r.snapshot_date, sum({{ n }}) as n from added_rows as r
                   group by r.portfolio_id, r.snapshot_date) as a
          on a.portfolio_id = o.portfolio_id and a.snapshot_date = o.snapshot_date
        where a.n is distinct from o.n
    ) then
        update {{ counts }} as c
        set exposure_rows = c.exposure_rows - removed.n
        from (select r.portfolio_id, r.snapshot_date, sum({{ n }}) as n from removed_rows as r
              group by r.portfolio_id, r.snapshot_date) as removed
        where c.portfolio_id = removed.portfolio_id and c.snapshot_date = removed.snapshot_date;
        insert into {{ counts }} as c (portfolio_id, snapshot_date, exposure_rows)
        select r.portfolio_id, r.snapshot_date, sum({{ n }}) from added_rows as r group by r.portfolio_id, r.snapshot_date
        on conflict (portfolio_id, snapshot_date)
        do update set exposure_rows = c.exposure_rows + excluded.exposure_rows;
    end if;
    return null;
end
$src$;
    truncated_src constant text := $src$
begin
    truncate {{ counts }};
    return null;
end
$src$;
    fn_name text;
    fn_src text;
begin
    if to_regclass('{{ counts }}') is null then
        create table {{ counts }} (
            portfolio_id bigint not null,
            snapshot_date date not null,
            exposure_rows bigint not null,
            primary key (portfolio_id, snapshot_date)
        );
    end if;

    -- the trigger functions: replaced only when their source differs from this project's
    for fn_name, fn_src in
        select * from (values ('{{ fn }}_removed', removed_src), ('{{ fn }}_moved', moved_src),
                              ('{{ fn }}_truncated', truncated_src)) as f (name, src)
    loop
        if not exists (
            select 1 from pg_proc
            where oid = to_regprocedure(fn_name || '()') and prosrc = fn_src
        ) then
            execute format('create or replace function %s() returns trigger language plpgsql as %L',
                           fn_name, fn_src);
        end if;
    end loop;

    if exists (  -- an earlier version's
        select 1 from pg_trigger
        where tgrelid = '{{ this }}'::regclass and tgname = 'exposure_counts_added'
    ) then
        drop trigger exposure_counts_added on {{ this }};
    end if;

    if (
        select count(*) from pg_trigger
        where tgrelid = '{{ this }}'::regclass and tgname in (
            'exposure_counts_removed', 'exposure_counts_moved', 'exposure_counts_truncated'
        )
    ) < 3 then
        -- a table without the triggers (first build, full refresh, rebuilt elsewhere):
        -- nothing has kept the counts, so recount it once
        drop trigger if exists exposure_counts_removed on {{ this }};
        drop trigger if exists exposure_counts_moved on {{ this }};
        drop trigger if exists exposure_counts_truncated on {{ this }};
        truncate {{ counts }};
        insert into {{ counts }} (portfolio_id, snapshot_date, exposure_rows)
        select r.portfolio_id, r.snapshot_date, sum({{ n }}) from {{ this }} as r
        group by r.portfolio_id, r.snapshot_date;
        create trigger exposure_counts_removed after delete on {{ this }}
            referencing old table as removed_rows
            for each statement execute function {{ fn }}_removed();
        create trigger exposure_counts_moved after update on {{ this }}
            referencing old table as removed_rows new table as added_rows
            for each statement execute function {{ fn }}_moved();
        create trigger exposure_counts_truncated after truncate on {{ this }}
            for each statement execute function {{ fn }}_truncated();
    else
        -- this build's sessions: exactly the rows just inserted (none = 0)
        insert into {{ counts }} as c (portfolio_id, snapshot_date, exposure_rows)
        select work.portfolio_id, work.snapshot_date, coalesce(built.n, 0)
        from {{ ref('int_portfolio_work_sessions') }} as work
        left join (
            select r.portfolio_id, r.snapshot_date, sum(cardinality(r.betas)) as n
            from {{ ref('int_position_factor_exposures') }} as r
            group by r.portfolio_id, r.snapshot_date
        ) as built
            on built.portfolio_id = work.portfolio_id and built.snapshot_date = work.snapshot_date
        on conflict (portfolio_id, snapshot_date) do update set exposure_rows = excluded.exposure_rows;
    end if;
end
$do$;

analyze {{ counts }};
{%- endmacro %}
