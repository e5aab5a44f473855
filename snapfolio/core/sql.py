"""Named `.sql` files beside the Python that runs them: SQL is read, linted (sqlfluff)
and reviewed as SQL, never as long Python strings.

`load_sql(__file__, "name")` reads `sql/name.sql` next to the calling module, once per
process.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import sqlalchemy as sa


@cache
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def sql_path(module_file: str, name: str) -> Path:
    return Path(module_file).resolve().parent / "sql" / f"{name}.sql"


def load_sql(module_file: str, name: str) -> str:
    """The text of `sql/<name>.sql` beside `module_file` (pass the caller's __file__)."""
    return _read(sql_path(module_file, name))


def sql_text(module_file: str, name: str) -> sa.TextClause:
    """`load_sql` wrapped for `conn.execute`."""
    return sa.text(load_sql(module_file, name))


def run_script(conn: sa.Connection, module_file: str, name: str,
               params: dict | None = None) -> None:
    """Run every statement of `sql/<name>.sql` in order (psycopg binds parameters one
    statement at a time). Statements are separated by a `;` at the end of a line."""
    for statement in load_sql(module_file, name).split(";\n"):
        if statement.strip(" \n;") and not _only_comments(statement):
            used = {k: v for k, v in (params or {}).items() if f":{k}" in statement}
            conn.execute(sa.text(statement), used)


def _only_comments(statement: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--")
               for line in statement.splitlines())
