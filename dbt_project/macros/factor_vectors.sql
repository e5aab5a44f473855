{# The exposure store keeps one row per open position x session with every factor in a
   vector (marts_store.fct_position_exposure_vectors); the long form
   marts.fct_position_factor_exposures is a view over it (docs/performance.md
   "Exposure layout"). These macros are the one owner of the vector's layout. #}

{# Factor i of a vector: the seed's factors ordered by name (byte order), 1-based. #}
{% macro factor_order(factor_definitions) -%}
    select
        factor,
        min_obs,
        cast(row_number() over (order by factor collate "C") as integer) as factor_index
    from {{ factor_definitions }}
{%- endmacro %}

{# The logical exposure rows a vector row holds: its factors minus the ones deleted
   through the long-form view. #}
{% macro vector_exposure_rows(vectors) -%}
    (cardinality({{ vectors }}.betas) - coalesce(cardinality({{ vectors }}.deleted_factors), 0))
{%- endmacro %}

{# INSTEAD OF triggers on the long-form view (a view has no rows of its own): a
   long-form DELETE marks the factor in the vector row's deleted_factors (the row goes
   when every factor is deleted), UPDATE sets beta / market_value, INSERT restores a
   deleted factor (or adds a vector row holding only that factor). The vector table's
   own triggers keep the exposure counts (macros/exposure_counts.sql). Row-level: for
   repairs and tests, not for bulk writes (the batch writes the vector table).
   DDL (a function replaced, a trigger created) in a post-hook of the view: it runs only
   when the view is (re)built, and views are rebuilt only by the project rebuild (a
   changed project or a full refresh), which holds the dbt project lock exclusively
   (snapfolio/core/locks.py); normal builds exclude views, so no build runs this while
   another one writes through the view's table. #}
{% macro exposure_view_triggers() -%}
{%- set vectors = ref('fct_position_exposure_vectors') -%}
{%- set fn = vectors.schema ~ '.fct_position_factor_exposures_write' -%}
create or replace function {{ fn }}() returns trigger language plpgsql as $fn$
declare
    i integer;
    n integer;
    key record;
begin
    if tg_op = 'DELETE' then key := old; else key := new; end if;
    select f.factor_index, f.n into i, n
    from (
        select factor, cast(row_number() over (order by factor collate "C") as integer) as factor_index,
               cast(count(*) over () as integer) as n
        from {{ ref('factor_definitions') }}
    ) as f
    where f.factor = key.factor;
    if i is null then
        raise exception 'unknown factor %', key.factor;
    end if;
    if tg_op = 'DELETE' then
        update {{ vectors }} as v
        set deleted_factors = array_append(coalesce(v.deleted_factors, '{}'), i)
        where v.portfolio_id = old.portfolio_id and v.snapshot_date = old.snapshot_date
          and v.position_id = old.position_id
          and not coalesce(i = any(v.deleted_factors), false);
        delete from {{ vectors }} as v
        where v.portfolio_id = old.portfolio_id and v.snapshot_date = old.snapshot_date
          and v.position_id = old.position_id
          and cardinality(v.deleted_factors) >= cardinality(v.betas);
        return old;
    elsif tg_op = 'UPDATE' then
        update {{ vectors }} as v
        set betas[i] = new.beta, market_value = new.market_value
        where v.portfolio_id = old.portfolio_id and v.snapshot_date = old.snapshot_date
          and v.position_id = old.position_id;
        return new;
    end if;
    update {{ vectors }} as v
    set betas[i] = new.beta,
        deleted_factors = nullif(array_remove(v.deleted_factors, i), '{}')
    where v.portfolio_id = new.portfolio_id and v.snapshot_date = new.snapshot_date
      and v.position_id = new.position_id;
    if not found then
        insert into {{ vectors }} as v (portfolio_id, position_id, snapshot_date, symbol,
            market_value, betas, n_obs, unavailable_reason, deleted_factors)
        select new.portfolio_id, new.position_id, new.snapshot_date, new.symbol,
            new.market_value, array_fill(cast(null as double precision), array[n]),
            array_fill(cast(null as integer), array[n]),
            case when new.exposure_status = 'unavailable' then new.exposure_reason end,
            array_remove(array(select generate_series(1, n)), i);
        update {{ vectors }} as v
        set betas[i] = new.beta,
            n_obs[i] = case
                when new.exposure_status = 'ok' then 0
                when new.exposure_status = 'insufficient_history' then coalesce(
                    cast(substring(new.exposure_reason from 'insufficient history: (\d+) of') as integer),
                    2147483647)
            end,
            deleted_factors = nullif(v.deleted_factors, '{}')
        where v.portfolio_id = new.portfolio_id and v.snapshot_date = new.snapshot_date
          and v.position_id = new.position_id;
    end if;
    return new;
end
$fn$;

create trigger fct_position_factor_exposures_write
    instead of insert or update or delete on {{ this }}
    for each row execute function {{ fn }}();
{%- endmacro %}
