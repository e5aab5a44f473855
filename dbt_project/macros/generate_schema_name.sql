{# Use the configured schema name as-is (staging, intermediate, marts): the contract
   names marts.fct_* regardless of the profile's default schema. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
