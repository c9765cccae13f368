"""The PostgreSQL test server itself: a query round trip, fresh databases apart, and a restart kept data."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from support.postgres import INSTALL_HINT, PostgresServer, PostgresUnavailable, _bin_dir, missing_postgres


def test_a_fresh_database_round_trips_a_row(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        conn.execute("INSERT INTO t (id, name) VALUES (%s, %s)", (1, "Ava"))
        assert conn.execute("SELECT name FROM t WHERE id = %s", (1,)).fetchall() == [("Ava",)]


def test_each_test_gets_its_own_empty_database(postgres_server: PostgresServer) -> None:
    first, second = postgres_server.fresh_url(), postgres_server.fresh_url()
    try:
        assert first != second
        with psycopg.connect(first, autocommit=True) as conn:
            conn.execute("CREATE TABLE only_here (x INTEGER)")
        with psycopg.connect(second, autocommit=True) as conn:
            tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
        assert tables == []
    finally:
        postgres_server.drop(first)
        postgres_server.drop(second)


def test_committed_rows_survive_a_server_restart(postgres_server: PostgresServer, postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE taps (n INTEGER)")
        conn.execute("INSERT INTO taps VALUES (7)")
    postgres_server.restart()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert conn.execute("SELECT n FROM taps").fetchall() == [(7,)]


def test_a_missing_server_fails_in_ci_and_is_skipped_with_the_install_command_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        missing_postgres(f"initdb was not found: {INSTALL_HINT}")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y postgresql"):
        missing_postgres(f"initdb was not found: {INSTALL_HINT}")


def test_without_initdb_the_reason_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("support.postgres.INSTALLED", tmp_path)
    with pytest.raises(PostgresUnavailable, match="postgresql"):
        _bin_dir()
