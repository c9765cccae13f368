"""Storage failures the therapist can act on, and the one lookup failure (`UnknownRecord`).

A raw `sqlite3.OperationalError: database is locked` tells a therapist nothing. Every failure of the record
is turned into one of these classes, whose message names the file and says what to do; the app shows the
message and marks unsaved events as pending instead of pretending they were saved.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path


class UnknownRecord(LookupError):
    """A client, goal, objective, session or event id (or name) that does not exist."""


class StorageError(Exception):
    """The session record could not be read or written; the message names the file and the fix."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


class DatabaseLocked(StorageError):
    """Another program holds a write lock on the database for longer than we may wait."""


class DiskFull(StorageError):
    """The disk (or the database's size limit) has no room for the new data."""


class ReadOnlyLocation(StorageError):
    """The database or its directory cannot be written by this user."""


class CorruptDatabase(StorageError):
    """The file is not a valid Companion database (damaged, truncated or something else)."""


class SchemaTooNew(StorageError):
    """The database was written by a newer Companion whose format this version does not know."""


class KeyNeeded(StorageError):
    """The data folder is encrypted and no passphrase was given."""


class WrongKey(StorageError):
    """The passphrase given does not unlock the encrypted data folder."""


# Primary SQLite result codes (https://sqlite.org/rescode.html); extended codes keep these in the low byte.
SQLITE_READONLY = 8
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26


def _primary_code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def _writable(path: Path) -> bool:
    target = path if path.exists() else path.parent
    return os.access(target, os.W_OK)


def _read_only_message(db_path: Path, exc: BaseException) -> str:
    """Which of the three it is, each with the fix that works: a read-only filesystem (chmod cannot help),
    a read-only folder, or read-only files in a writable folder."""
    directory = db_path.parent
    elsewhere = "or choose another folder with --data-dir / COMPANION_DATA_DIR"
    read_only_fs = isinstance(exc, OSError) and exc.errno == errno.EROFS
    with contextlib.suppress(OSError):
        read_only_fs = read_only_fs or bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    if read_only_fs:
        return (
            f"Companion cannot write the session record {db_path}: the disk holding {directory} is mounted "
            f"read-only (chmod cannot change that): remount it writable {elsewhere}."
        )
    if not os.access(directory, os.W_OK):
        return (
            f"Companion cannot write the session record {db_path}: its folder {directory} is read-only for "
            f"this user: make it writable (`chmod u+w {directory}`) {elsewhere}."
        )
    files = " ".join(str(db_path.with_name(db_path.name + suffix)) for suffix in ("", "-wal", "-shm"))
    return (
        f"Companion cannot write the session record {db_path}: the file is read-only for this user: make it "
        f"writable (`chmod u+w {files}`) {elsewhere}."
    )


NEARLY_FULL_BYTES = 1 << 20


def _nearly_full(directory: Path) -> bool:
    """Whether the disk holding `directory` has under 1 MiB left. Why: SQLite reports some writes a full
    disk refused (growing the WAL or its shared memory) as a plain "disk I/O error"; on a disk with next
    to nothing left, that is what it was, and the fix to name is freeing space."""
    try:
        return shutil.disk_usage(directory).free < NEARLY_FULL_BYTES
    except OSError:
        return False


def classify(exc: BaseException, db_path: Path) -> StorageError:
    """Turn a low-level failure into the matching StorageError with an actionable message."""
    if isinstance(exc, StorageError):
        return exc
    directory = db_path.parent
    code = _primary_code(exc)
    text = str(exc)
    if code in (SQLITE_BUSY, SQLITE_LOCKED) or "locked" in text:
        return DatabaseLocked(
            db_path,
            f"The session record {db_path} is locked by another program (another Companion window or a "
            "backup/sync tool): close the other program or wait a moment, then try again.",
        )
    if (
        code == SQLITE_FULL
        or (isinstance(exc, OSError) and exc.errno == errno.ENOSPC)
        or (code == SQLITE_IOERR and _nearly_full(directory))
    ):
        return DiskFull(
            db_path,
            f"The disk holding {db_path} is full: free some space on that disk (or move the data folder "
            f"{directory} with --data-dir), then try again.",
        )
    if (
        code == SQLITE_READONLY
        or (code == SQLITE_CANTOPEN and not (_writable(db_path) and os.access(directory, os.W_OK)))
        or (isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS))
    ):
        return ReadOnlyLocation(db_path, _read_only_message(db_path, exc))
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return CorruptDatabase(
            db_path,
            f"The session record {db_path} is damaged or is not a Companion database. Nothing was changed. "
            f"Move it aside and copy the newest file from {directory / 'backups'} in its place "
            "(`companion backups restore` does this), or start with an empty record in another folder.",
        )
    return StorageError(
        db_path,
        f"The session record {db_path} could not be written ({text}): check the disk and the folder "
        "permissions, then try again.",
    )
