"""Test session database: a throw-away database on SNAPFOLIO_TEST_DATABASE_URL's server,
or on an embedded PostgreSQL when that is unset; dropped at the end of the session.

Every test that touches the database gets a clean `raw` schema and no dbt relations
(fixture `db`), so tests do not depend on each other's order.
"""

from __future__ import annotations

import os
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
                for schema in DBT_SCHEMAS:
                    conn.execute(sa.text(f"drop schema if exists {schema} cascade"))

    def scalar(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def rows(self, sql: str, **params) -> list:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params).mappings())


@pytest.fixture(scope="session")
def test_database() -> Iterator[TestDatabase]:
    from snapfolio.core.database import ensure_database_exists, get_engine, normalize_url

    home = Path(tempfile.mkdtemp(prefix="snapfolio-test-"))
    server_url = os.environ.get("SNAPFOLIO_TEST_DATABASE_URL")
    embedded = not server_url
    if embedded:
        from snapfolio.core.embedded_pg import ensure_embedded_server

        server_url = ensure_embedded_server(home)
    name = f"snapfolio_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = normalize_url(server_url).set(database=name)
    ensure_database_exists(url)
    saved = {k: os.environ.get(k) for k in ("SNAPFOLIO_DATABASE_URL", "SNAPFOLIO_HOME",
                                            "SNAPFOLIO_PRICE_PROVIDER")}
    os.environ["SNAPFOLIO_DATABASE_URL"] = url.render_as_string(hide_password=False)
    os.environ["SNAPFOLIO_HOME"] = str(home)
    os.environ["SNAPFOLIO_PRICE_PROVIDER"] = "synthetic"
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
