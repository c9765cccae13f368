"""SQLite files encrypted with SQLCipher, for a data folder the therapist chose to encrypt at rest.

A plain folder keeps the standard library's `sqlite3`; an encrypted one opens every file (the record, its
backups, rescue files) through SQLCipher with the folder's one 32-byte key, given as a raw key so SQLCipher
skips its own passphrase derivation on each open (the passphrase is stretched once, in `keys`). SQLCipher
raises its own exception classes, so code that catches storage failures catches `SQL_ERRORS`.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlcipher3 import dbapi2 as sqlcipher

SQL_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, sqlcipher.Error, psycopg.Error)
"""Every database driver's failures: SQLite's, SQLCipher's and, for a record on a server, psycopg's."""
SQL_OR_OS_ERRORS: tuple[type[Exception], ...] = (OSError, *SQL_ERRORS)
PLAIN_HEADER = b"SQLite format 3\x00"
KEY_BYTES = 32


@dataclass(frozen=True)
class DataKey:
    """The key of an encrypted data folder (never written to disk by Companion; see `keys`)."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != KEY_BYTES:
            raise ValueError(f"a data key is {KEY_BYTES} bytes, not {len(self.raw)}")

    def __repr__(self) -> str:  # a traceback or log line must not show it
        return "DataKey(<hidden>)"

    @property
    def sql(self) -> str:
        """The key as SQLCipher's raw-key literal (hex digits only: safe inside a statement)."""
        return f"\"x'{self.raw.hex()}'\""


def connect(path: Path | str, key: DataKey | None, **options: Any) -> sqlite3.Connection:
    """A connection to `path`: the standard library's without a key, SQLCipher's (keyed first) with one.

    SQLCipher's connection has sqlite3's interface; its Row and errors are its own classes (`SQL_ERRORS`).
    """
    if key is None:
        return sqlite3.connect(path, **options)
    conn = sqlcipher.connect(str(path), **options)
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")  # a wrong key is reported by us, not on stderr
        conn.execute(f"PRAGMA key = {key.sql}")
    except BaseException:
        conn.close()
        raise
    return conn


def row_factory(conn: sqlite3.Connection) -> type:
    """The Row class matching the connection's module (sqlite3's Row refuses SQLCipher's cursors)."""
    return sqlite3.Row if isinstance(conn, sqlite3.Connection) else sqlcipher.Row


def is_plain(path: Path) -> bool:
    """Whether `path` starts with SQLite's plain header. An encrypted file starts with its random salt."""
    with open(path, "rb") as file:
        return file.read(len(PLAIN_HEADER)) == PLAIN_HEADER


def encrypt_file(source: Path, target: Path, key: DataKey) -> None:
    """Copy the plain database `source` (with its WAL) into the new file `target`, encrypted, on the disk.

    `target` must not exist; it is created 0600. Why sqlcipher_export rather than the backup API: the
    backup API copies pages, and a plain page cannot become an encrypted one."""
    fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    conn = sqlcipher.connect(str(source), isolation_level=None)
    try:
        conn.execute(f"ATTACH DATABASE ? AS encrypted KEY {key.sql}", (str(target),))
        conn.execute("BEGIN IMMEDIATE")  # no other writer between the first and the last table copied
        conn.execute("SELECT sqlcipher_export('encrypted')")
        version = conn.execute("PRAGMA main.user_version").fetchone()[0]
        conn.execute(f"PRAGMA encrypted.user_version = {int(version)}")
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE encrypted")
    finally:
        conn.close()
    fsync_file(target)


def fsync_file(path: Path) -> None:
    """Make a file's contents durable before it is renamed into place."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
