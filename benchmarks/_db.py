"""A throw-away database for a benchmark: on SNAPFOLIO_DATABASE_URL's server if set,
else on the embedded PostgreSQL; dropped afterwards."""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa


@contextmanager
def scratch_database(prefix: str, *, keep: bool = False) -> Iterator[str]:
    """Yield the URL of a new database; dropped afterwards unless ``keep`` (then its URL
    is printed on stderr, to run more batches against it)."""
    from snapfolio.core.database import ensure_database_exists, normalize_url

    server = os.environ.get("SNAPFOLIO_DATABASE_URL")
    if not server:
        from snapfolio.core.embedded_pg import ensure_embedded_server
        from snapfolio.core.settings import load_settings

        server = ensure_embedded_server(load_settings().home)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    url = normalize_url(server).set(database=name)
    ensure_database_exists(url)
    saved_url, saved_home = os.environ.get("SNAPFOLIO_DATABASE_URL"), os.environ.get("SNAPFOLIO_HOME")
    os.environ["SNAPFOLIO_DATABASE_URL"] = url.render_as_string(hide_password=False)
    os.environ.setdefault("SNAPFOLIO_HOME", str(Path(tempfile.gettempdir()) / "snapfolio-bench"))
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        if keep:
            print(f"[bench] kept database: {url.render_as_string(hide_password=False)}",
                  file=sys.stderr, flush=True)
        else:
            admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
            admin.dispose()
        for key, value in (("SNAPFOLIO_DATABASE_URL", saved_url), ("SNAPFOLIO_HOME", saved_home)):
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
