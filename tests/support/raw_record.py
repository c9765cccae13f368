"""A second, raw connection to a test's record, wherever the record suite runs it (see `record_backend`).

Why: some tests look under the parts (what a row holds, that a trigger refuses raw SQL, an older schema
written by hand); they must look at the same database the record uses, the SQLite file in the data folder
or the test's PostgreSQL database named by COMPANION_DATABASE_URL. On PostgreSQL the connection is the
record's own `PostgresConnection`, so the tests' SQLite SQL runs there as the record's does.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from companion.record import postgres
from companion.record.database import Connection


def on_postgres() -> bool:
    return database_url() is not None


def database_url() -> str | None:
    """The test's PostgreSQL database (None: the record is the SQLite file), for code that must be given it:
    a campaign that starts its own processes, or asks the server directly."""
    return os.environ.get("COMPANION_DATABASE_URL") or None


def database_env() -> dict[str, str]:
    """The variable a child process needs to reach the same record (empty for the SQLite default)."""
    url = os.environ.get("COMPANION_DATABASE_URL")
    return {"COMPANION_DATABASE_URL": url} if url else {}


@contextmanager
def raw_connection(data_dir: Path) -> Iterator[Connection]:
    """An autocommit connection beside the record's, closed at the end."""
    url = os.environ.get("COMPANION_DATABASE_URL")
    conn: Connection
    if url:
        conn = postgres.connect(url, busy_timeout=1.0)
        postgres.prepare(conn)
    else:
        conn = sqlite3.connect(data_dir / "companion.db", isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def fingerprint(data_dir: Path) -> object:
    """What must not change when a record is refused: the file's bytes, or on a server every table's
    name and the schema versions recorded."""
    if not on_postgres():
        return (data_dir / "companion.db").read_bytes()
    with raw_connection(data_dir) as conn:
        tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetchall()
        versions = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        return [tuple(r) for r in tables], [tuple(r) for r in versions]
