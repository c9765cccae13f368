"""One SQLite connection to the session record, opened safely and written through short transactions.

Why these settings: WAL lets a second process (a browser session beside the terminal one) read while we
write; `synchronous=FULL` makes every COMMIT fsync the WAL, so a call that returned has reached the disk;
BEGIN IMMEDIATE takes the write lock up front so two writers queue on the busy timeout instead of
deadlocking on a lock upgrade. Every sqlite3/OS failure leaves this module as a `StorageError`.

The same class holds a practice's record on a PostgreSQL server (`Database.open_url`): the parts see the
same `query`/`transaction` API and a connection with sqlite3's interface (`companion.record.postgres`
translates the SQL at that seam), so every part, query and migration is written once.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from companion.paths import PRIVATE_FILE_MODE, ensure_private_file
from companion.record.cipher import SQL_ERRORS, SQL_OR_OS_ERRORS, DataKey, connect, is_plain, row_factory
from companion.record.connection import Connection, Row
from companion.record.errors import (
    CorruptDatabase,
    ReadOnlyLocation,
    SchemaTooNew,
    StorageError,
    WrongKey,
    classify,
)
from companion.record.migrations import NewerSchemaError, migrate, stored_version
from companion.record.postgres import PostgresConnection, redacted
from companion.record.postgres import connect as connect_postgres
from companion.record.postgres import prepare as prepare_postgres
from companion.record.postgres import problem as postgres_problem

SIDECAR_SUFFIXES = ("-wal", "-shm")
T = TypeVar("T")


class Database:
    """A migrated, WAL-mode connection with a lock so the app may call it from worker threads."""

    def __init__(
        self,
        path: Path,
        connection: Connection,
        busy_timeout: float = 1.0,
        key: DataKey | None = None,
        url: str | None = None,
    ) -> None:
        self.path = path
        """The SQLite file; for a record on a server, where it would be (its rescue files' names say it)."""
        self.url = url
        """The PostgreSQL server's URL, when the record is there (None: the SQLite file `path`)."""
        self.connection = connection
        self.busy_timeout = busy_timeout
        self.key = key
        """The folder's key when it is encrypted (see docs/record.md); backups and rescue files use it too."""
        self.lock = threading.RLock()
        self.refused_as_read_only = False
        """A write failed as read-only: the next transaction first reconnects if the files became writable."""

    @classmethod
    def open(cls, path: Path, busy_timeout: float = 1.0, key: DataKey | None = None) -> Database:
        """Open (creating 0600 if new), verify and migrate the database at `path`, encrypted with `key`."""
        try:
            if not path.exists():
                _create(path, key)
            _refuse_empty(path)
            conn = _connect(path, key, busy_timeout)
        except SQL_OR_OS_ERRORS as exc:
            raise classify(exc, path) from exc
        _check_and_migrate(
            conn, path, str(path), lambda: _configure(conn, path), lambda exc: _unreadable(exc, path, key)
        )
        secure_sidecars(path)
        return cls(path, conn, busy_timeout, key)

    @classmethod
    def open_url(cls, url: str, path: Path, busy_timeout: float = 1.0) -> Database:
        """Connect to the PostgreSQL record at `url` and migrate it; `path` names its rescue files."""
        try:
            conn = connect_postgres(url, busy_timeout)
        except SQL_OR_OS_ERRORS as exc:
            raise postgres_problem(exc, path, url) from exc
        _check_and_migrate(
            conn,
            path,
            redacted(url),
            lambda: prepare_postgres(conn),
            lambda exc: postgres_problem(exc, path, url),
        )
        return cls(path, conn, busy_timeout, url=url)

    @classmethod
    def attach_url(cls, url: str, path: Path, busy_timeout: float = 1.0) -> Database:
        """A further connection to a server record `open_url` has already migrated (the outbox's sender
        writes through its own, so a tap never queues behind a slow network call)."""
        try:
            return cls(path, connect_postgres(url, busy_timeout), busy_timeout, url=url)
        except SQL_OR_OS_ERRORS as exc:
            raise postgres_problem(exc, path, url) from exc

    @property
    def where(self) -> str:
        """The record's place as messages name it: the file, or the server's URL without its password."""
        return str(self.path) if self.url is None else redacted(self.url)

    def close(self) -> None:
        with self.lock:
            self.connection.close()

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Row]:
        """Run a read; failures become StorageError naming the file."""
        with self.lock:
            try:
                return self._once_more_if_server_lost(lambda: self.connection.execute(sql, params).fetchall())
            except SQL_ERRORS as exc:
                raise self._problem(exc) from exc

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction that is committed (and fsynced) when the block exits, or rolled back."""
        with self.lock:
            if self.refused_as_read_only and self._reconnected():
                self.refused_as_read_only = False
            try:
                self._once_more_if_server_lost(lambda: self.connection.execute("BEGIN IMMEDIATE"))
            except SQL_ERRORS as exc:
                raise self._classified(exc) from exc
            conn = self.connection
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    with contextlib.suppress(*SQL_ERRORS):
                        conn.execute("ROLLBACK")
                if isinstance(exc, SQL_OR_OS_ERRORS):
                    raise self._classified(exc) from exc
                raise

    def _problem(self, exc: BaseException) -> StorageError:
        return classify(exc, self.path) if self.url is None else postgres_problem(exc, self.path, self.url)

    def _classified(self, exc: BaseException) -> StorageError:
        problem = self._problem(exc)
        if isinstance(problem, ReadOnlyLocation):
            self.refused_as_read_only = True
        return problem

    def _once_more_if_server_lost(self, step: Callable[[], T]) -> T:
        """`step` (a read, or BEGIN: nothing done yet), run again once on a new connection if the server
        dropped this one. Why: a server that restarted (or a network that came back) is only noticed when a
        call fails on the old connection; that first call should not fail when a new one would work."""
        try:
            return step()
        except SQL_ERRORS:
            if not (isinstance(self.connection, PostgresConnection) and self.connection.broken):
                raise
        assert self.url is not None
        self.connection = connect_postgres(self.url, self.busy_timeout)  # fails: the server is still away
        return step()

    def _reconnected(self) -> bool:
        """After a write was refused as read-only: when the files are writable again (the user followed the
        message), a fresh connection. Why: SQLite opens a file it may not write read-only for good (its
        transactions even begin), so the connection of a record opened while read-only would refuse every
        write until a restart."""
        if self.url is not None:  # a server's refusal is not about files here
            return False
        files = [self.path, *(self.path.with_name(self.path.name + s) for s in SIDECAR_SUFFIXES)]
        if not (
            os.access(self.path.parent, os.W_OK) and all(os.access(f, os.W_OK) for f in files if f.exists())
        ):
            return False
        self.connection.close()  # first: while it is open, SQLite opens the file read-only again
        try:
            self.connection = _connect(self.path, self.key, self.busy_timeout)
            _configure(self.connection, self.path)
        except SQL_OR_OS_ERRORS:
            with contextlib.suppress(*SQL_OR_OS_ERRORS):  # as before: the next write says why
                self.connection = _connect(self.path, self.key, self.busy_timeout)
                self.connection.row_factory = row_factory(self.connection)
            return False
        return True


def _check_and_migrate(
    conn: Connection,
    path: Path,
    where: str,
    configure: Callable[[], None],
    problem: Callable[[BaseException], StorageError],
) -> None:
    """Refuse a newer schema before anything is written, then `configure` and migrate; on any failure the
    connection is closed and the failure raised as the StorageError `problem` makes of it."""
    try:
        stored_version(conn)
        configure()
        migrate(conn)
    except NewerSchemaError as exc:
        conn.close()
        raise SchemaTooNew(
            path,
            f"The session record {where} was written by a newer version of Companion (schema "
            f"{exc.found}). Nothing was changed; update Companion to open it.",
        ) from exc
    except SQL_OR_OS_ERRORS as exc:
        conn.close()
        raise problem(exc) from exc
    except BaseException:
        conn.close()
        raise


def _connect(path: Path, key: DataKey | None, busy_timeout: float) -> sqlite3.Connection:
    return connect(path, key, timeout=busy_timeout, isolation_level=None, check_same_thread=False)


def _unreadable(exc: BaseException, path: Path, key: DataKey | None) -> StorageError:
    """What a failure on first reading means. Without a key, a file that is not plain SQLite may be an
    encrypted record whose marker went missing; with one, the marker's check passed, so the file belongs
    to another folder or is damaged."""
    problem = classify(exc, path)
    if key is None and isinstance(problem, CorruptDatabase) and not is_plain(path):
        return CorruptDatabase(
            path,
            f"{problem} If this folder was encrypted (`companion encrypt`), its encryption.json is missing: "
            "copy it back from where the folder came from.",
        )
    if key is not None and isinstance(problem, CorruptDatabase):
        return WrongKey(
            path,
            f"{path} cannot be read with this data folder's key: it is damaged, or was encrypted in another "
            f"folder. Nothing was changed. Restore the newest backup from {path.parent / 'backups'} "
            "(`companion backups restore`), or copy the folder's own encryption.json beside it.",
        )
    return problem


def _create(path: Path, key: DataKey | None) -> None:
    """A new database, built complete under a private temporary name and then linked into place.

    Why not create `path` and migrate it there: between the empty file appearing and its schema being
    written, another process opening the same new folder would find an empty file, which this module
    must report as damaged (an emptied record is not a new one). Linking fails if another process got
    there first; its database is then the one opened."""
    temp = path.with_name(f".{path.name}.new-{os.getpid()}-{threading.get_ident()}")
    try:
        ensure_private_file(temp)
        conn = connect(temp, key, isolation_level=None)
        try:
            _configure(conn, temp)
            migrate(conn)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        for leftover in (temp, *(temp.with_name(temp.name + suffix) for suffix in SIDECAR_SUFFIXES)):
            leftover.unlink(missing_ok=True)
    # The new name, and the data folder's own (a new database usually means a new folder), must reach the
    # disk before any tap is acknowledged into it. Best effort, as SQLite treats its WAL's folder: a folder
    # that cannot be synced must not stop the session.
    for folder in (path.parent, path.parent.parent):
        with contextlib.suppress(OSError):
            sync_folder(folder)


def _refuse_empty(path: Path) -> None:
    """An existing database file of 0 bytes (with no WAL holding its data) was emptied: say so and point to
    the backups instead of silently starting an empty record over it."""
    wal = path.with_name(path.name + "-wal")
    if path.stat().st_size == 0 and not (wal.exists() and wal.stat().st_size > 0):
        raise CorruptDatabase(
            path,
            f"The session record {path} is empty (0 bytes): it was truncated or replaced, not created new. "
            f"Nothing was changed. Move it aside and restore the newest backup from "
            f"{path.parent / 'backups'} (`companion backups restore`).",
        )


def _configure(conn: sqlite3.Connection, path: Path) -> None:
    conn.row_factory = row_factory(conn)
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"could not switch {path} to WAL mode (got {mode})")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    check = conn.execute("PRAGMA quick_check").fetchone()[0]
    if check != "ok":
        raise CorruptDatabase(
            path,
            f"The session record {path} failed its integrity check ({check}). Nothing was changed. Move it "
            f"aside and restore the newest backup from {path.parent / 'backups'} "
            "(`companion backups restore`).",
        )


def sync_folder(folder: Path) -> None:
    """fsync a folder, so the names just created or renamed in it survive a power cut. Why: fsync of a file
    writes its contents, not its entry in the folder (POSIX); without this a new database or rescue file
    could vanish with every tap it held."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def secure_sidecars(path: Path) -> None:
    """Keep the WAL and shared-memory files as private as the database (SQLite copies its mode; be sure)."""
    for suffix in SIDECAR_SUFFIXES:
        sidecar = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            if sidecar.stat().st_mode & 0o077:
                sidecar.chmod(PRIVATE_FILE_MODE)
