"""One place that decides which PostgreSQL we talk to and makes sure its schema exists.

Python code, dbt (through profiles.yml env vars) and Great Expectations all get their
connection from here, so they can never disagree about the database.
"""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from snapfolio.core.locks import MIGRATION_LOCK_KEY, xact_lock
from snapfolio.core.settings import Settings, load_settings

DEFAULT_DATABASE = "snapfolio"
# libpq TCP keepalives: a lock holder whose peer vanished is noticed within ~1 minute
# (the server drops the session and with it every advisory lock it held)
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
              "keepalives_count": 3}


def normalize_url(url: str) -> URL:
    """Accept postgres://, postgresql:// or postgresql+psycopg:// and use psycopg 3."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    return parsed.set(drivername="postgresql+psycopg")


def resolve_url(settings: Settings | None = None) -> URL:
    settings = settings or load_settings()
    if settings.database_url:
        return normalize_url(settings.database_url)
    from snapfolio.core.embedded_pg import ensure_embedded_server

    server = ensure_embedded_server(settings.home)
    url = normalize_url(server).set(database=DEFAULT_DATABASE)
    ensure_database_exists(url)
    return url


def ensure_database_exists(url: URL) -> None:
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(sa.text("select 1 from pg_database where datname = :d"), {"d": url.database})
            if not exists:
                conn.execute(sa.text(f'create database "{url.database}"'))
    finally:
        admin.dispose()


@functools.cache
def _engine_for(url_str: str) -> Engine:
    engine = sa.create_engine(url_str, pool_pre_ping=True, pool_size=5, max_overflow=10,
                              connect_args={"options": "-c jit=off", **KEEPALIVES})
    migrate(engine)
    return engine


def get_engine(settings: Settings | None = None) -> Engine:
    """Engine for the configured database, schema migrated on first use in this process."""
    url = resolve_url(settings)
    return _engine_for(url.render_as_string(hide_password=False))


def migrate(engine: Engine) -> None:
    """Apply Alembic migrations (raw schema) and load the session calendar; idempotent."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with engine.begin() as conn:
        xact_lock(conn, MIGRATION_LOCK_KEY)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        _load_sessions(conn)


def _load_sessions(conn: sa.Connection) -> None:
    """raw.trading_sessions holds the NYSE calendar so dbt can do session math in SQL.

    Reloaded whenever it differs from this process's calendar (its range moves with
    today, and a new exchange_calendars release may add or move a holiday): compared by
    a digest of every session date, one query of ~12k rows.
    """
    import hashlib

    from snapfolio.core.calendar import CALENDAR_END, CALENDAR_START, sessions_between

    sessions = sessions_between(CALENDAR_START, CALENDAR_END)
    wanted = hashlib.md5(",".join(d.isoformat() for d in sessions).encode()).hexdigest()
    stored = conn.scalar(sa.text(
        "select md5(string_agg(to_char(session_date, 'YYYY-MM-DD'), ',' order by session_date)) "
        "from raw.trading_sessions"))
    if stored == wanted:
        return
    conn.execute(sa.text("delete from raw.trading_sessions"))
    conn.execute(
        sa.text(
            "insert into raw.trading_sessions (session_date, session_index) "
            "select d, i from unnest(cast(:dates as date[])) with ordinality as t(d, i)"
        ),
        {"dates": sessions},
    )


def dbt_env(url: URL) -> dict[str, str]:
    """Env vars read by profiles.yml, so dbt connects exactly where Python does."""
    return {
        "SNAPFOLIO_PGHOST": url.host or "127.0.0.1",
        "SNAPFOLIO_PGPORT": str(url.port or 5432),
        "SNAPFOLIO_PGUSER": url.username or "postgres",
        "SNAPFOLIO_PGPASSWORD": url.password or "",
        "SNAPFOLIO_PGDATABASE": url.database or DEFAULT_DATABASE,
        # JIT compiles for ~1 s on the small, badly estimated queries of a build: off
        "PGOPTIONS": "-c jit=off",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",  # offline: no tracking calls
        "DO_NOT_TRACK": "1",
    }
