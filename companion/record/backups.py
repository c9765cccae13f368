"""Rolling backups of the session record through SQLite's online backup API.

The backup API copies a consistent snapshot even while the app (or a second process) keeps writing, so
backups need no downtime. Each backup is written under a temporary name and renamed when complete, so a
crash never leaves a half-written file that looks like a good backup. Restoring never deletes anything:
the current database is moved aside first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from companion.paths import backups_dir, ensure_private_dir, ensure_private_file
from companion.record.database import SIDECAR_SUFFIXES
from companion.record.errors import CorruptDatabase, StorageError, classify

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


def make_backup(source: sqlite3.Connection, db_path: Path, keep: int) -> Path:
    """Snapshot `source` into the backups folder (0600), then drop all but the newest `keep` backups."""
    directory = ensure_private_dir(backups_dir(db_path.parent))
    final = directory / f"{PREFIX}{datetime.now(UTC).strftime(STAMP)}{SUFFIX}"
    partial = final.with_name("." + final.name + ".partial")
    try:
        ensure_private_file(partial)
        target = sqlite3.connect(partial)
        try:
            source.backup(target)
        finally:
            target.close()
        os.replace(partial, final)
    except (OSError, sqlite3.Error) as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise classify(exc, final) from exc
    for old in list_backups(db_path.parent)[:-keep]:
        old.unlink()
    return final


def restore_backup(data_dir: Path, db_path: Path, backup: Path | None = None) -> tuple[Path, Path | None]:
    """Put `backup` (default: the newest) in place of the database; returns (restored from, moved aside).

    The record must be closed. The replaced database and its WAL are renamed `*.replaced-<time>`, never
    deleted, so even a mistaken restore loses nothing.
    """
    available = list_backups(data_dir)
    chosen = backup or (available[-1] if available else None)
    if chosen is None:
        raise StorageError(db_path, f"There is no backup in {backups_dir(data_dir)} to restore.")
    _verify(chosen)
    stamp = datetime.now(UTC).strftime(STAMP)
    aside: Path | None = None
    for suffix in ("", *SIDECAR_SUFFIXES):
        current = db_path.with_name(db_path.name + suffix)
        if current.exists():
            moved = current.with_name(f"{current.name}.replaced-{stamp}")
            current.rename(moved)
            aside = aside or moved
    ensure_private_file(db_path)
    shutil.copyfile(chosen, db_path)
    return chosen, aside


def _verify(backup: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise classify(exc, backup) from exc
    if result != "ok":
        raise CorruptDatabase(backup, f"The backup {backup} is damaged ({result}); choose an older one.")
