"""Rolling backups of the session record through SQLite's online backup API.

The backup API copies a consistent snapshot even while the app (or a second process) keeps writing, so
backups need no downtime. Each backup is written under a temporary name and renamed when complete, so a
crash never leaves a half-written file that looks like a good backup. Restoring never deletes anything:
the current database is moved aside first.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from companion.paths import backups_dir, ensure_private_dir, ensure_private_file
from companion.record.cipher import SQL_ERRORS, SQL_OR_OS_ERRORS, DataKey, connect, is_plain
from companion.record.database import SIDECAR_SUFFIXES, Database, sync_folder
from companion.record.errors import CorruptDatabase, StorageError, classify
from companion.record.keys import marker_path, unlock
from companion.record.postgres import PostgresConnection

DEFAULT_BACKUP_EVERY = timedelta(hours=24)
DEFAULT_KEEP_BACKUPS = 20
PREFIX = "companion-"
SUFFIX = ".db"
STAMP = "%Y%m%dT%H%M%S%fZ"


def list_backups(data_dir: Path) -> list[Path]:
    """Backups in a data directory, oldest first."""
    directory = backups_dir(data_dir)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.name.startswith(PREFIX) and p.name.endswith(SUFFIX))


def backup_time(backup: Path) -> datetime:
    """When a backup was taken, read from its name."""
    stamp = backup.name[len(PREFIX) : -len(SUFFIX)]
    return datetime.strptime(stamp, STAMP).replace(tzinfo=UTC)


def backup_due(data_dir: Path, every: timedelta, now: datetime | None = None) -> bool:
    """True when there is no backup younger than `every`."""
    backups = list_backups(data_dir)
    if not backups:
        return True
    return (now or datetime.now(UTC)) - backup_time(backups[-1]) >= every


def make_backup(source: sqlite3.Connection, db_path: Path, keep: int, key: DataKey | None = None) -> Path:
    """Snapshot `source` into the backups folder (0600), then drop all but the newest `keep` backups.

    An encrypted record's backup is encrypted with the same key (the backup API copies its pages)."""
    final = backups_dir(db_path.parent) / f"{PREFIX}{datetime.now(UTC).strftime(STAMP)}{SUFFIX}"
    partial = final.with_name("." + final.name + ".partial")
    try:
        ensure_private_dir(final.parent)  # in the try: a read-only data folder is a StorageError too
        ensure_private_file(partial)
        target = connect(partial, key)
        try:
            source.backup(target)
        finally:
            target.close()
        os.replace(partial, final)
    except SQL_OR_OS_ERRORS as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise classify(exc, final) from exc
    for old in list_backups(db_path.parent)[:-keep]:
        old.unlink()
    return final


class Backups:
    """The record's own automatic and on-demand backups (`record.backups`)."""

    def __init__(self, db: Database, data_dir: Path, every: timedelta | None, keep: int) -> None:
        self._db = db
        self._data_dir = data_dir
        self._every = every
        self._keep = keep
        self.backup_error: StorageError | None = None
        """Why the last automatic backup failed (e.g. disk full), for the app to show; None when fine."""

    def backup_now(self) -> Path:
        """Write a consistent snapshot to `<data dir>/backups/` and prune the oldest beyond the limit."""
        with self._db.lock:
            connection = self._db.connection
            if isinstance(connection, PostgresConnection):
                raise StorageError(
                    self._db.path,
                    f"The practice's record at {self._db.where} is on a server: back it up with the "
                    "server's own tools (`pg_dump`, or its continuous archiving), not into the data folder.",
                )
            return make_backup(connection, self._db.path, self._keep, self._db.key)

    def backup_if_due(self) -> Path | None:
        if self._every is None or self._db.url is not None or not backup_due(self._data_dir, self._every):
            return None
        return self.backup_now()


def restore_backup(
    data_dir: Path, db_path: Path, backup: Path | None = None, key: DataKey | None = None
) -> tuple[Path, Path | None]:
    """Put `backup` (default: the newest) in place of the database; returns (restored from, moved aside).

    `key` is the folder's key when it is encrypted (else COMPANION_PASSPHRASE's): the backup is checked
    with it.

    Refused while another program has the record open (its next tap would go into a file that is no longer
    the record). The replaced database is first checkpointed, so what it holds is all in one file, and is
    renamed `*.replaced-<time>` with any WAL beside it under the name SQLite looks for, so it opens with
    every acknowledged tap: even a mistaken restore loses nothing.
    """
    available = list_backups(data_dir)
    chosen = backup or (available[-1] if available else None)
    if chosen is None:
        raise StorageError(db_path, f"There is no backup in {backups_dir(data_dir)} to restore.")
    if key is None and marker_path(data_dir).exists():
        key = unlock(data_dir)
    _verify(chosen, None if is_plain(chosen) else key)  # a backup from before `companion encrypt` is plain
    if open_elsewhere(db_path):
        raise StorageError(
            db_path,
            f"The session record {db_path} is open in another program (the app, a browser session or a "
            "sync tool): close it, then restore. Nothing was changed.",
        )
    _checkpoint(db_path, key)
    stamp = datetime.now(UTC).strftime(STAMP)
    aside: Path | None = None
    if db_path.exists():
        aside = db_path.with_name(f"{db_path.name}.replaced-{stamp}")
        for suffix in SIDECAR_SUFFIXES:  # a WAL it still needs travels under the name SQLite looks for
            sidecar = db_path.with_name(db_path.name + suffix)
            if sidecar.exists():
                sidecar.rename(aside.with_name(aside.name + suffix))
        db_path.rename(aside)
    ensure_private_file(db_path)
    shutil.copyfile(chosen, db_path)
    with open(db_path, "rb+") as restored:  # on the disk before anyone taps into it
        os.fsync(restored.fileno())
    sync_folder(db_path.parent)
    return chosen, aside


def open_elsewhere(db_path: Path) -> bool:
    """Whether another process has the database open: every SQLite connection in WAL mode holds a shared
    lock on the shared-memory file's "dead man switch" byte, so an exclusive lock on it fails then."""
    shm = db_path.with_name(db_path.name + "-shm")
    if not shm.exists():
        return False
    try:
        fd = os.open(shm, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, WAL_DMS_BYTE)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, WAL_DMS_BYTE)
        return False
    finally:
        os.close(fd)


WAL_DMS_BYTE = 128
"""SQLite's unix VFS: the wal-index locks start at byte 120 of the -shm file; the dead-man switch is 8 on."""


def _checkpoint(db_path: Path, key: DataKey | None) -> None:
    """Fold the WAL into the database file, so the copy set aside is complete on its own. A damaged record
    (often why one restores) may refuse: its WAL then travels with it instead."""
    if not db_path.exists():
        return
    with contextlib.suppress(*SQL_OR_OS_ERRORS):
        conn = connect(db_path, None if is_plain(db_path) else key, isolation_level=None)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()


def _verify(backup: Path, key: DataKey | None) -> None:
    try:
        conn = connect(f"file:{backup}?mode=ro", key, uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
    except SQL_ERRORS as exc:
        raise classify(exc, backup) from exc
    if result != "ok":
        raise CorruptDatabase(backup, f"The backup {backup} is damaged ({result}); choose an older one.")
