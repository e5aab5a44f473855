{# Post-hook of the large incremental marts: ANALYZE when the table has no statistics
   yet or this build (re)computed more than 10 % of the sessions the snapshot mart
   holds (a backfill chunk, an onboarding into a small book); a daily increment of a
   large book leaves it to autovacuum instead of paying a full-table sample (~0.5 s per
   10M rows) for a 0.4 % change. Cheap: it counts work sessions, not mart rows. #}
{% macro analyze_if_grown() -%}
do $analyze$
begin
    if (select reltuples from pg_class where oid = '{{ this }}'::regclass) < 0
       or (select count(*) from {{ ref('int_portfolio_work_sessions') }})
          > 0.1 * (select greatest(reltuples, 0) from pg_class
                   where oid = to_regclass('{{ this.schema }}.fct_portfolio_snapshots'))
    then
        analyze {{ this }};
    end if;
end
$analyze$
{%- endmacro %}
