{# Fresh statistics for a mart after each build, from a small sample. The planner needs
   to know the sessions just written (without it, it estimates one row for them and a
   backfill chunk's joins go wrong), but a default ANALYZE samples 30,000 rows of the
   whole table: ~1.1 s for a 38M-row exposure mart, more as the history grows. A
   statistics target of 20 samples 6,000 rows (~0.2 s) and still covers the new
   session's dates and the portfolio ids; `set local` ends with the model's transaction. #}
{% macro analyze_mart(statistics_target=20) -%}
set local default_statistics_target = {{ statistics_target }};
analyze {{ this }}
{%- endmacro %}
