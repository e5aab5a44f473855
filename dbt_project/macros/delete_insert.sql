{# dbt's delete+insert deletes `where (keys) in (select distinct keys from <temp table>)`.
   The temp table was just created and has no statistics, so PostgreSQL guesses its
   size and may hash it and scan the whole (large) mart; analyzed, it probes the mart's
   (portfolio_id, snapshot_date, ...) index per key instead: cost grows with the new
   rows, not with history. #}
{% macro postgres__get_delete_insert_merge_sql(
    target, source, unique_key, dest_columns, incremental_predicates
) -%}
    analyze {{ source }};
    {{ default__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) }}
{%- endmacro %}
