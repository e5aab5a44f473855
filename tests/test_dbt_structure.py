"""The dbt project's structure, from its parsed manifest (no database): models by
business area with one `_<area>__models.yml` per folder, every model, column, source
table, source column and macro described, a data test on every grain, and one owner for
the stale-price window (the dbt var, never a literal in the SQL)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent / "dbt_project"
REPO = PROJECT.parent
AREAS = {"staging", "intermediate/work_set", "intermediate/accounting", "intermediate/factors",
         "intermediate/risk", "marts/accounting", "marts/factors", "marts/risk"}
# The grain of raw.symbol_factor_betas is its primary key; a data test would re-scan the
# largest table of the project on every build (see its description).
GRAIN_BY_CONSTRAINT = {"stg_symbol_factor_betas",
                       # the risk inputs' grain is their raw table's primary key (0005)
                       "stg_risk_work", "stg_portfolio_risk_stats", "stg_position_risk_stats",
                       "stg_factor_covariances", "stg_stress_factor_moves",
                       "stg_position_correlations", "stg_symbol_profiles"}
GRAIN_TESTS = {"unique", "unique_combination_of_columns"}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    from dbt.cli.main import dbtRunner

    out = tmp_path_factory.mktemp("dbt_parse")
    res = dbtRunner().invoke([
        "parse", "--project-dir", str(PROJECT), "--profiles-dir", str(REPO),
        "--target-path", str(out / "target"), "--log-path", str(out / "logs"),
        "--no-partial-parse", "--quiet",
    ])
    assert res.success, res.exception
    return res.result


def models(manifest) -> list:
    return [n for n in manifest.nodes.values()
            if n.resource_type == "model" and n.package_name == "snapfolio"]


def test_models_live_in_their_business_area(manifest):
    folders = {str(Path(m.original_file_path).parent.relative_to("models")) for m in models(manifest)}
    assert folders == AREAS
    for area in AREAS:
        ymls = sorted(p.name for p in (PROJECT / "models" / area).glob("*.yml")
                      if p.name != "_sources.yml")
        leaf = area.split("/")[-1]
        prefix = "_int_" if area.startswith("intermediate/") else "_"
        assert ymls == [f"{prefix}{leaf}__models.yml"], area


def test_mart_names_are_the_contract(manifest):
    marts = {m.name for m in models(manifest) if m.schema == "marts"}
    assert marts == {"fct_position_values", "fct_portfolio_snapshots", "portfolio_watermarks",
                     "fct_position_factor_exposures", "fct_portfolio_factor_exposures",
                     "fct_portfolio_risk", "fct_position_risk", "fct_portfolio_sector_exposures",
                     "fct_portfolio_stress_results", "fct_factor_covariances",
                     "fct_position_correlations"}


def test_everything_is_described(manifest):
    undescribed = []
    for model in models(manifest):
        if not model.description.strip():
            undescribed.append(model.name)
        undescribed += [f"{model.name}.{c}" for c, col in model.columns.items()
                        if not col.description.strip()]
    for source in manifest.sources.values():
        if not source.description.strip():
            undescribed.append(source.unique_id)
        undescribed += [f"{source.unique_id}.{c}" for c, col in source.columns.items()
                        if not col.description.strip()]
    undescribed += [m.name for m in manifest.macros.values()
                    if m.package_name == "snapfolio" and not m.description.strip()]
    assert undescribed == []


def test_every_grain_has_a_data_test(manifest):
    tested = set()
    for node in manifest.nodes.values():
        if node.resource_type == "test" and node.test_metadata and \
                node.test_metadata.name in GRAIN_TESTS:
            tested.update(n.split(".")[-1] for n in node.depends_on.nodes if n.startswith("model."))
    untested = {m.name for m in models(manifest)} - tested - GRAIN_BY_CONSTRAINT
    assert untested == set()


def test_stale_window_has_one_owner():
    """5 sessions (DESIGN.md "Accounting") lives in dbt_project.yml only."""
    import yaml

    assert yaml.safe_load((PROJECT / "dbt_project.yml").read_text())["vars"] == {
        "stale_price_sessions": 5,
        # unqualified: the build's search_path has its slot's intermediate schema
        "work_set_rows": "(portfolio_id, snapshot_date) in (select portfolio_id, snapshot_date"
                         " from int_portfolio_work_sessions)",
        # the risk build's own rows (raw.risk_work is keyed by build id, as stg_risk_work)
        "risk_work_rows": "(portfolio_id, snapshot_date) in (select portfolio_id, snapshot_date"
                          " from raw.risk_work where build_id ="
                          " current_setting('snapfolio.build_id'))",
        "tlt_duration_years": 17,
    }
    users = []
    for path in sorted((PROJECT / "models").rglob("*.sql")):
        code = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.DOTALL)
        assert not re.search(r"(<=|<|>|>=|-|\+)\s*5\b", code), f"a literal 5 in {path.name}"
        if "var('stale_price_sessions')" in code:
            users.append(path.stem)
    assert users == ["int_position_values", "int_symbol_session_prices"]


def test_grain_tests_share_one_where(manifest):
    wheres = {node.config.where for node in manifest.nodes.values()
              if node.resource_type == "test" and node.config.where}
    # one where per build: the accounting build's work set, the risk build's work set
    assert len(wheres) == 2
    assert {"from int_portfolio_work_sessions" in w for w in wheres} == {True, False}
    assert any("raw.risk_work" in w for w in wheres)


def test_shared_risk_relations_are_the_risk_models_outside_a_slot(manifest):
    """The risk phase creates the risk relations shared by every build alone (its first
    build): flows/phases/risk.py's list is every risk model not in a slot's intermediate
    schema (nor ephemeral)."""
    from flows.phases.risk import SHARED_RISK_RELATIONS

    shared = {f"{m.schema}.{m.name}" for m in models(manifest)
              if "risk" in m.tags and m.schema != "intermediate"
              and m.config.materialized != "ephemeral"}
    assert shared == set(SHARED_RISK_RELATIONS)
