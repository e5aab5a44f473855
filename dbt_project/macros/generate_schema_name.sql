{# Use the configured schema name as-is (staging, intermediate, marts): the contract
   names marts.fct_* regardless of the profile's default schema.

   The intermediate models are one build's working tables (rebuilt every build), so two
   builds running at the same time must not share them: a build in slot S
   (SNAPFOLIO_DBT_SLOT, set by flows/dbt_runner.py, empty by default) writes them to
   intermediate_S. A slot keeps its own dbt target directory too, so the value never
   changes under one partial-parse state. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set slot = env_var('SNAPFOLIO_DBT_SLOT', '') -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif custom_schema_name | trim == 'intermediate' and slot -%}
        intermediate_{{ slot }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
