"""The file-backed Great Expectations context under `<SNAPFOLIO_HOME>/gx`.

Everything GX needs is declared idempotently with add_or_update, so a deleted or
hand-edited gx/ directory heals itself and the code stays the single source of truth;
a run whose declarations (checks, severities, this code, the GX version) and stored
files are exactly those the last declaration wrote loads the checkpoint instead of
re-declaring it (`ensure_checkpoint`: ~0.3 s of every run's checks phase). The context
is file-backed (not ephemeral) so that suites, the checkpoint, validation results and
Data Docs survive the process and can be browsed afterwards.

The run's parameters (as_of, portfolio ids, since, current run id) reach the SQL as the
GX *batch*: a one-row query asset, `run_scope`, that each check selects from as
`{batch}`. Only that query changes between runs; the suites stay stable, and every
validation result records the exact scope it checked. Callers serialize runs (a
PostgreSQL advisory lock, see gate.py) because the scope lives in the shared config.
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import URL

from expectations.checks import CHECKS, Severity
from snapfolio.core.settings import Settings

if TYPE_CHECKING:
    from great_expectations.checkpoint import Checkpoint
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.data_context import FileDataContext

DATASOURCE = "snapfolio_postgres"
SCOPE_ASSET = "run_scope"
BATCH_DEFINITION = "run_scope"
CHECKPOINT = "snapfolio_gate"
SITE = "local_site"
# The connection string is a ${VAR} resolved from the runtime environment, so a password
# in SNAPFOLIO_DATABASE_URL never lands in great_expectations.yml.
URL_VAR = "SNAPFOLIO_GX_DATABASE_URL"
# Data Docs rebuild their index from the stored results; cap it so daily runs stay fast.
INDEX_VALIDATION_LIMIT = 200
GX_SEVERITY: dict[Severity, str] = {"error": "critical", "warning": "warning"}
_SAFE_RUN_ID = re.compile(r"[A-Za-z0-9_.\-]*")
# what the last declaration wrote: a hash of its inputs and of the files it left
DECLARED_MARKER = "uncommitted/snapfolio_declared.sha256"
DECLARED_DIRS = ("expectations", "validation_definitions", "checkpoints")
# Data Docs pages rendered by views whose Jinja templates compile once per machine
# (expectations/docs_views.py) instead of once per page per run
_VIEWS_MODULE = "expectations.docs_views"


def context_root(settings: Settings) -> Path:
    return settings.home / "gx"


def data_docs_index(settings: Settings) -> Path:
    """The local Data Docs page (it exists once a check has run)."""
    return context_root(settings) / "uncommitted" / "data_docs" / SITE / "index.html"


def open_context(settings: Settings, url: URL) -> FileDataContext:
    """The file context, created on first use, with analytics and progress bars off.

    GX is imported here, not at module import, because it costs ~2 s: the CLI should pay
    it only when it actually runs the checks.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # no network calls, ever
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    settings.home.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(
        mode="file",
        project_root_dir=settings.home,
        runtime_environment={URL_VAR: url.render_as_string(hide_password=False)},
    )
    changed = False
    if ctx.variables.analytics_enabled is not False:
        ctx.variables.analytics_enabled = False
        changed = True
    bars = ctx.variables.progress_bars  # a dict once read back from the yml
    bars = vars(bars) if isinstance(bars, ProgressBarsConfig) else (bars or {})
    if bars.get("globally") is not False or bars.get("metric_calculations") is not False:
        # tqdm bars on stderr would clutter CLI output and Prefect logs
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        changed = True
    if changed:
        ctx.variables.save()
    site: dict[str, Any] = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": f"uncommitted/data_docs/{SITE}/",
        },
        "site_index_builder": {
            "class_name": "DefaultSiteIndexBuilder",
            "validation_results_limit": INDEX_VALIDATION_LIMIT,
            "view": _view("CachedIndexPageView", settings),
        },
        "site_section_builders": {
            section: {"view": _view("CachedPageView", settings)}
            for section in ("expectations", "validations", "profiling")
        },
    }
    sites = ctx.list_data_docs_sites()
    if SITE not in sites:
        ctx.add_data_docs_site(SITE, site)  # type: ignore[arg-type]
    elif dict(sites[SITE]) != site:
        ctx.update_data_docs_site(SITE, site)  # type: ignore[arg-type]
    return ctx


def _view(class_name: str, settings: Settings) -> dict[str, str]:
    return {"module_name": _VIEWS_MODULE, "class_name": class_name,
            "bytecode_cache_dir": str(context_root(settings) / "uncommitted" / "jinja_cache")}


def scope_query(
    as_of: date,
    portfolio_ids: list[int] | None,
    since: date | None,
    current_run_id: str | None,
) -> str:
    """The one-row `run_scope` batch: literal values, typed, readable in Data Docs."""
    ids = (
        "cast(null as bigint[])"
        if portfolio_ids is None
        else f"cast(array[{', '.join(str(int(i)) for i in portfolio_ids)}] as bigint[])"
    )
    return (
        f"select cast('{as_of.isoformat()}' as date) as as_of, "
        f"cast({_date_literal(since)} as date) as since, "
        f"{ids} as portfolio_ids, "
        f"cast({_text_literal(current_run_id)} as text) as current_run_id"
    )


def ensure_checkpoint(
    ctx: FileDataContext, severities: dict[str, Severity], scope_sql: str
) -> Checkpoint:
    """Declare datasource, scope batch, suites, validation definitions and THE checkpoint.

    The scope batch is updated every run; the rest is declared only when
    `_declared_checkpoint` cannot load what the last declaration left."""
    import great_expectations as gx

    from expectations.python_checks import PYTHON_EXPECTATIONS  # imports GX

    batch_definition = _ensure_scope_batch(ctx, scope_sql)
    root = Path(str(ctx.root_directory))
    inputs = _declaration_inputs(severities, gx.__version__)
    checkpoint = _declared_checkpoint(ctx, root, inputs)
    if checkpoint is not None:
        return checkpoint
    validation_definitions = []
    for suite_name in dict.fromkeys(check.suite for check in CHECKS):
        suite = gx.ExpectationSuite(
            name=suite_name,
            meta={"notes": "snapfolio post-run gate; SQL in expectations/sql/<check>.sql"},
        )
        for check in (c for c in CHECKS if c.suite == suite_name):
            expectation = (
                PYTHON_EXPECTATIONS[check.name] if check.python
                else gx.expectations.UnexpectedRowsExpectation
            )
            suite.add_expectation(
                expectation(
                    unexpected_rows_query=check.sql,
                    description=f"{check.name}: {check.description}",
                    severity=GX_SEVERITY[severities[check.name]],  # type: ignore[arg-type]
                    meta={"check": check.name, "severity": severities[check.name]},
                    notes=f"SQL: expectations/sql/{check.name}.sql; offending rows are in the "
                    "validation result JSON (unexpected_rows) and in the run's check report.",
                )
            )
        suite = ctx.suites.add_or_update(suite)
        validation_definitions.append(
            ctx.validation_definitions.add_or_update(
                gx.ValidationDefinition(name=suite_name, data=batch_definition, suite=suite)
            )
        )
    checkpoint = ctx.checkpoints.add_or_update(
        gx.Checkpoint(
            name=CHECKPOINT,
            validation_definitions=validation_definitions,
            # no UpdateDataDocsAction: it rebuilds the site (index included) once per
            # suite; run_checks builds it once for the whole run (build_data_docs)
            actions=[],
            # COMPLETE: UnexpectedRowsExpectation returns the offending rows (up to 200)
            result_format={"result_format": "COMPLETE"},
        )
    )
    marker = root / DECLARED_MARKER
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(_declaration_hash(root, inputs))
    return checkpoint


def build_data_docs(ctx: FileDataContext, result: Any) -> None:
    """The run's pages (each suite's validation result and the suite) and the index, in
    one build of the site."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    identifiers: list[Any] = []
    for identifier, suite_result in result.run_results.items():
        identifiers += [identifier, ExpectationSuiteIdentifier(name=suite_result.suite_name)]
    ctx.build_data_docs(site_names=[SITE], resource_identifiers=identifiers, build_index=True)


def _declaration_inputs(severities: dict[str, Severity], gx_version: str) -> bytes:
    """Everything a declaration is made of: the checks (names, suites, descriptions,
    SQL), their severities, the code that declares them and the GX version."""
    digest = hashlib.sha256(gx_version.encode())
    for check in CHECKS:  # the SQL as the declaration reads it (checks.load_sql)
        digest.update(repr((check, check.sql, severities[check.name])).encode())
    for path in (Path(__file__), Path(__file__).with_name("python_checks.py")):
        digest.update(path.read_bytes())
    return digest.digest()


def _declaration_hash(root: Path, inputs: bytes) -> str:
    """The inputs' hash plus every stored declaration file (name and bytes)."""
    digest = hashlib.sha256(inputs)
    for folder in DECLARED_DIRS:
        for path in sorted((root / folder).glob("*.json")):
            digest.update(f"{folder}/{path.name}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _declared_checkpoint(ctx: FileDataContext, root: Path, inputs: bytes) -> Checkpoint | None:
    """The stored checkpoint, when the last declaration was made of these very inputs and
    its files are untouched since (a deleted or edited suite is declared again)."""
    marker = root / DECLARED_MARKER
    if not marker.is_file() or marker.read_text() != _declaration_hash(root, inputs):
        return None
    try:
        return ctx.checkpoints.get(CHECKPOINT)
    except Exception:  # noqa: BLE001 - anything unreadable is declared again
        return None


def _ensure_scope_batch(ctx: FileDataContext, scope_sql: str) -> BatchDefinition:
    """Datasource + `run_scope` query asset + batch definition, updated in place.

    add_or_update_postgres would drop the asset (and with it the ids the validation
    definitions refer to), so the datasource is only (re)created when missing or changed.
    """
    connection_string = "${" + URL_VAR + "}"
    sources = ctx.data_sources.all()
    datasource = sources.get(DATASOURCE)
    if datasource is None or str(getattr(datasource, "connection_string", "")) != connection_string:
        datasource = ctx.data_sources.add_or_update_postgres(
            name=DATASOURCE,
            connection_string=connection_string,
            kwargs={"connect_args": {"application_name": "snapfolio-checks"}},
        )
    if SCOPE_ASSET in datasource.get_asset_names():
        asset = datasource.get_asset(SCOPE_ASSET)
        if asset.query != scope_sql:
            asset.query = scope_sql
            ctx.update_datasource(datasource)
    else:
        asset = datasource.add_query_asset(SCOPE_ASSET, query=scope_sql)
    try:
        return asset.get_batch_definition(BATCH_DEFINITION)
    except KeyError:
        return asset.add_batch_definition_whole_table(BATCH_DEFINITION)


def _date_literal(value: date | None) -> str:
    return "null" if value is None else f"'{value.isoformat()}'"


def _text_literal(value: str | None) -> str:
    """A SQL string literal that also survives GX's sa.text() (no ':' binds, no quotes)."""
    if value is None:
        return "null"
    if _SAFE_RUN_ID.fullmatch(value):
        return f"'{value}'"
    return f"convert_from(decode('{value.encode().hex()}', 'hex'), 'UTF8')"
