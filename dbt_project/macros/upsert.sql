{# Incremental strategy `upsert` (incremental_strategy='upsert'): insert the new rows in
   unique-key order, a row whose key exists updating the stored one (left as it is when
   nothing changed). For marts whose keys two concurrent builds both write (the factor
   covariances: keyed by session, built by every shard's risk build): a concurrent
   delete+insert of one key fails on the unique index, an upsert waits for the other
   writer's commit and then updates; both insert in key order, so neither can wait for
   the other in a cycle. The unique key must be a unique index of the mart (the arbiter
   of ON CONFLICT). #}
{% macro get_incremental_upsert_sql(arg_dict) -%}
    {%- set unique_key = arg_dict['unique_key'] -%}
    {%- set key_names = [unique_key] if unique_key is string else unique_key -%}
    {%- set keys, columns, updated = [], [], [] -%}
    {%- for k in key_names -%}{%- do keys.append(adapter.quote(k)) -%}{%- endfor -%}
    {%- for c in arg_dict['dest_columns'] -%}
        {%- do columns.append(adapter.quote(c.name)) -%}
        {%- if c.name not in key_names -%}{%- do updated.append(adapter.quote(c.name)) -%}{%- endif -%}
    {%- endfor -%}
    analyze {{ arg_dict['temp_relation'] }};
    insert into {{ arg_dict['target_relation'] }} as existing ({{ columns | join(', ') }})
    select {{ columns | join(', ') }} from {{ arg_dict['temp_relation'] }}
    order by {{ keys | join(', ') }}
    on conflict ({{ keys | join(', ') }}) do
    {%- if updated %} update set
        {%- for c in updated %}
        {{ c }} = excluded.{{ c }}{{ "," if not loop.last }}
        {%- endfor %}
    where (existing.{{ updated | join(', existing.') }})
        is distinct from (excluded.{{ updated | join(', excluded.') }})
    {%- else %} nothing
    {%- endif %}
{%- endmacro %}
