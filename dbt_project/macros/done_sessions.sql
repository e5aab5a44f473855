{# The meanings of "a session is done", each with one owner here. They differ on
   purpose:

   * session_is_complete: the portfolio has a snapshot for the session and it is
     complete (README "is_complete": every open position of an available symbol has
     a close within the stale window).
   * session_is_done: complete, or final (is_final: incomplete only for closes the
     providers were already asked for and did not have, DESIGN "Input limits"). A done
     session needs no more work until a restatement: the watermark
     (portfolio_watermarks), the gaps a run plans (flows/phases/sql/first_gap.sql) and
     the lag check (expectations/sql/no_portfolio_lags.sql) read this one. A session
     with no snapshot or an incomplete, non-final one is a gap; stale or unavailable
     prices never make one, and a final session is reported, not rebuilt.
   * session_is_built: done AND holding every factor-exposure row (at least
     position_count × factors rows in the exposure mart). Only the work set
     (int_portfolio_work_sessions) reads this one: a session whose snapshot is done
     but whose exposure rows are missing is rebuilt too (self-healing).

   All are null-safe: a session with no snapshot row (left join) is none of them, and
   an is_final null (a mart built before the column) is not final. #}

{% macro session_is_complete(snapshots) -%}
    coalesce({{ snapshots }}.is_complete, false)
{%- endmacro %}

{% macro session_is_done(snapshots) -%}
    coalesce({{ snapshots }}.is_complete or {{ snapshots }}.is_final, false)
{%- endmacro %}

{% macro session_is_built(snapshots, exposure_rows, n_factors) -%}
    coalesce(
        ({{ snapshots }}.is_complete or {{ snapshots }}.is_final)
        and coalesce({{ exposure_rows }}, 0) >= {{ snapshots }}.position_count * {{ n_factors }},
        false
    )
{%- endmacro %}
