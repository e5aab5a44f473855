"""Test session database: a throw-away database on SNAPFOLIO_TEST_DATABASE_URL's server,
or on an embedded PostgreSQL when that is unset; dropped at the end of the session.

Every test that touches the database gets a clean `raw` schema and no dbt relations
(fixture `db`), so tests do not depend on each other's order.

Safe under pytest-xdist (`make test` runs `-n 2 --dist loadfile`): each worker is its own
session with its own database, SNAPFOLIO_HOME (dbt target, GX docs, embedded cluster) and
Prefect server port, so workers share nothing but the PostgreSQL server.
"""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "portfolios"

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("SNAPFOLIO_EMBEDDED_FAST", "1")  # throw-away clusters: no fsync
os.environ.pop("PREFECT_API_URL", None)  # tests use their own local Prefect server

RAW_TABLES = (
    "raw.batch_runs, raw.restatements, raw.symbol_factor_betas, raw.symbol_beta_coverage, "
    "raw.symbol_status, "
    "raw.prices, raw.positions, raw.portfolios, raw.build_scope, raw.dbt_state, "
    "raw.symbol_profiles, raw.symbol_profile_attempts, raw.risk_marks, raw.portfolio_risk_stats, "
    "raw.position_risk_stats, raw.factor_covariances, raw.stress_factor_moves, "
    "raw.position_correlations, raw.risk_work, raw.run_messages"
)
DBT_SCHEMAS = ("staging", "intermediate", "marts", "marts_store", "raw_seeds")


WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")  # gw0, gw1, ... under xdist


def _unused_port() -> int:
    """A port the kernel just handed out: concurrent sessions (xdist workers, other
    checkouts) never all pick Prefect's default 4200 and end up on one another's server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Under xdist (`make test`: --dist loadfile --no-loadscope-reorder) the files that take
# minutes start first, so the two workers finish together rather than one ending on a long
# file while the other idles; every other file follows in the usual order. Only the order
# of whole files changes (tests within a file keep theirs); measured costs in README "Tests".
SLOW_FILES_FIRST = (  # slowest first, by the summed --durations of a full run
    "test_flow.py", "test_cli.py", "test_hardening_cli.py", "test_exports.py",
    "test_accounting.py", "test_risk_marts.py", "test_expectations_risk.py",
    "test_price_ingest.py", "test_expectations.py", "test_lag_scenario.py",
    "test_concurrent_builds.py", "test_exposures.py",
    "test_symbol_profiles.py", "test_report.py", "test_factor_betas_db.py",
    "test_factors_rolling.py", "test_beta_coverage.py", "test_manual_prices.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if WORKER == "main":
        return
    rank = {name: i for i, name in enumerate(SLOW_FILES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable


@dataclass
class TestDatabase:
    url: URL
    engine: Engine
    home: Path

    @property
    def url_string(self) -> str:
        return self.url.render_as_string(hide_password=False)

    def reset(self, drop_dbt: bool = True) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(f"truncate {RAW_TABLES} restart identity cascade"))
            if drop_dbt:
                # and every build slot's intermediate schema (intermediate_<slot>)
                slots = conn.execute(sa.text(
                    "select nspname from pg_namespace where nspname like 'intermediate\\_%'"
                )).scalars().all()
                for schema in (*DBT_SCHEMAS, *slots):
                    conn.execute(sa.text(f'drop schema if exists "{schema}" cascade'))

    def scalar(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def rows(self, sql: str, **params) -> list:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params).mappings())


@pytest.fixture(scope="session")
def test_database() -> Iterator[TestDatabase]:
    from snapfolio.core.database import ensure_database_exists, get_engine, normalize_url

    home = Path(tempfile.mkdtemp(prefix=f"snapfolio-test-{WORKER}-"))
    server_url = os.environ.get("SNAPFOLIO_TEST_DATABASE_URL")
    embedded = not server_url
    if embedded:
        from snapfolio.core.embedded_pg import ensure_embedded_server

        server_url = ensure_embedded_server(home)
    name = f"snapfolio_test_{WORKER}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = normalize_url(server_url).set(database=name)
    ensure_database_exists(url)
    saved = {k: os.environ.get(k) for k in ("SNAPFOLIO_DATABASE_URL", "SNAPFOLIO_HOME",
                                            "SNAPFOLIO_PRICE_PROVIDER", "SNAPFOLIO_PREFECT_PORT")}
    os.environ["SNAPFOLIO_DATABASE_URL"] = url.render_as_string(hide_password=False)
    os.environ["SNAPFOLIO_HOME"] = str(home)
    os.environ["SNAPFOLIO_PRICE_PROVIDER"] = "synthetic"
    # this session's Prefect server (fixture prefect_api, or a CLI subprocess that starts one)
    os.environ["SNAPFOLIO_PREFECT_PORT"] = str(_unused_port())
    engine = get_engine()
    try:
        yield TestDatabase(url=url, engine=engine, home=home)
    finally:
        engine.dispose()
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        from flows.prefect_server import stop_prefect_server

        stop_prefect_server(home)
        if embedded:
            from snapfolio.core.embedded_pg import stop_embedded_server

            stop_embedded_server(home)


@pytest.fixture
def db(test_database: TestDatabase) -> TestDatabase:
    """A clean database (raw tables empty, no dbt relations)."""
    test_database.reset()
    return test_database


@pytest.fixture
def settings(test_database: TestDatabase):
    from snapfolio.core.settings import load_settings

    return load_settings()


@pytest.fixture(scope="session")
def prefect_api(test_database: TestDatabase) -> str:
    """A local Prefect server for this test session (started once, in the background)."""
    from flows.prefect_server import ensure_prefect_server

    return ensure_prefect_server(test_database.home)
