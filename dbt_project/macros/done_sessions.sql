{# The two meanings of "a session is done", each with one owner here. They differ on
   purpose:

   * session_is_complete: the portfolio has a snapshot for the session and it is
     complete (README "is_complete": every open position of an available symbol has
     a close within the stale window). The watermark (portfolio_watermarks), the gaps a
     run plans and the lag check read this one: a session with an incomplete snapshot
     is a gap, and stale or unavailable prices never make one.
   * session_is_built: complete AND holding every factor-exposure row (at least
     position_count × factors rows in the exposure mart). Only the work set
     (int_portfolio_work_sessions) reads this one: a session whose snapshot is complete
     but whose exposure rows are missing is rebuilt too (self-healing).

   Both are null-safe: a session with no snapshot row (left join) is neither. #}

{% macro session_is_complete(snapshots) -%}
    coalesce({{ snapshots }}.is_complete, false)
{%- endmacro %}

{% macro session_is_built(snapshots, exposure_rows, n_factors) -%}
    coalesce(
        {{ snapshots }}.is_complete
        and coalesce({{ exposure_rows }}, 0) >= {{ snapshots }}.position_count * {{ n_factors }},
        false
    )
{%- endmacro %}
