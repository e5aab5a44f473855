"""`dbt build` of the whole project with its unit tests (the accounting edge cases:
first session, short, exit, option multiplier, stale price, unavailable symbol, option
settlement, carry-forward, the work set, and the factor exposure rules) and data tests,
on a real database."""

from __future__ import annotations

from datetime import date

from flows.dbt_runner import build_scope, dbt_build


def test_dbt_build_with_unit_tests_passes(db, settings):
    with build_scope(db.engine, date(2025, 3, 7), None) as build_id:
        result = dbt_build(settings, db.url, unit_tests=True, build_id=build_id)
    unit = {k: v for k, v in result.nodes.items() if k.startswith("unit_test.")}
    names = {k.split(".")[-1] for k in unit}
    assert {"first_session_has_zero_daily_pnl", "short_position_gains_when_price_falls",
            "exit_mid_period_realizes_and_freezes", "option_multiplier_scales_value_and_pnl",
            "stale_price_within_five_sessions_then_entry",
            "unavailable_symbol_uses_entry_price_and_does_not_block",
            "snapshot_complete_unless_available_symbol_unpriced"} <= names
    # the settlement, carry-forward, stale-window var and work-set rules
    assert {"option_without_exit_settles_at_intrinsic_value_after_expiry",
            "carry_forward_within_the_work_range",
            "stale_window_is_the_stale_price_sessions_var",
            "work_set_fills_holes_restates_and_skips_built_portfolios"} <= names
    # the risk models' SQL rules (issue #14)
    assert {"concentration_merges_lots_of_one_symbol",
            "concentration_top_3_keeps_the_three_largest",
            "drawdown_from_running_peak_null_while_peak_not_positive",
            "drawdown_carries_the_stored_peak_and_max_drawdown",
            "open_positions_exit_in_window_option_sector_of_underlying",
            } <= names
    assert set(unit.values()) == {"pass"}
    assert any(k.startswith("test.") for k in result.nodes)  # grain tests ran too
    assert all(v in ("pass", "success") for v in result.nodes.values())
