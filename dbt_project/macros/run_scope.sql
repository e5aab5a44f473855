{# The run's scope lives in raw.build_scope (one row, written by snapfolio under the
   global dbt lock right before `dbt build`), not in --vars: the compiled project never
   changes between runs, so partial parsing stays valid. #}
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
