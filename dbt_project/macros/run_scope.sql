{# The build's scope is its own row of raw.build_scope (keyed by build_id, written by
   snapfolio right before `dbt build` and deleted after it), read through
   stg_build_scope, which keeps only the row of the connection's snapfolio.build_id
   setting. Not in --vars: the compiled project never changes between runs, so partial
   parsing stays valid, and concurrent builds never read each other's scope. #}
{% macro as_of_date() -%}
    (select as_of from {{ ref('stg_build_scope') }})
{%- endmacro %}

{% macro portfolio_in_scope(column) -%}
    exists (
        select 1 from {{ ref('stg_build_scope') }} as build_scope
        where build_scope.portfolio_ids is null or {{ column }} = any(build_scope.portfolio_ids)
    )
{%- endmacro %}

{# The existing mart table (schema marts), or none on the first build or a full
   refresh, so everything is computed. It only says whether a mart is there: the work set
   reads the marts through source('marts', ...), which a unit test can give rows. #}
{% macro existing_mart(name) -%}
    {%- if flags.FULL_REFRESH -%}{{ return(none) }}{%- endif -%}
    {%- set rel = adapter.get_relation(database=target.database, schema='marts', identifier=name) -%}
    {{ return(rel) }}
{%- endmacro %}
