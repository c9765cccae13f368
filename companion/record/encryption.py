"""`companion encrypt`: turning a plain data folder into an encrypted one without risking a single entry.

The order is what makes an interruption harmless at every point: the marker first (a marker beside a plain
database changes nothing, see `keys.encrypted`), then an encrypted copy under a temporary name, checked
table by table against the original and on the disk, then one atomic rename over the plain file. Until that
rename the plain database is untouched; after it, the encrypted one is complete. Backups follow, each by
the same copy-and-rename, so a rerun finishes what an interrupted run left.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from companion.paths import database_path
from companion.record.backups import list_backups, open_elsewhere
from companion.record.cipher import KEY_BYTES, SQL_OR_OS_ERRORS, DataKey, connect, encrypt_file, is_plain
from companion.record.database import SIDECAR_SUFFIXES, sync_folder
from companion.record.errors import StorageError, WrongKey, classify
from companion.record.keys import encrypted, keep_in_keyring, marker_path, new_marker, unlock
from companion.record.record import Record


@dataclass
class Encryption:
    """What `encrypt_folder` did, for the command to report."""

    database: bool
    """False when the record already was encrypted (a rerun)."""
    backups: list[Path] = field(default_factory=list)
    """Plain backups now encrypted in place."""
    left_plain: list[tuple[Path, str]] = field(default_factory=list)
    """Plain copies of the record that were not encrypted, with why (damaged backups, restore leftovers)."""


def encrypt_folder(data_dir: Path, passphrase: str, *, keyring: bool = False) -> Encryption:
    """Encrypt the folder's record and its backups with a key from `passphrase`, or with `keyring` with a
    random key kept in the OS keyring, `passphrase` being its recovery passphrase (`keys`). A rerun must give
    the same passphrase; with `keyring` it puts the key (back) in the keyring, and turns a passphrase
    folder into a keyring one. Raises StorageError (or ValueError for a too short passphrase) with nothing
    changed."""
    db = database_path(data_dir)
    if encrypted(data_dir):
        key = unlock(data_dir, passphrase)
        if keyring:
            keep_in_keyring(data_dir, key, passphrase)
        done = Encryption(database=False)
    else:
        if open_elsewhere(db):
            raise StorageError(
                db,
                f"{db} is open in another program (the app or a browser session): close "
                "it, then run `companion encrypt` again. Nothing was changed.",
            )
        earlier = _earlier_key(data_dir, passphrase)
        Record.open(data_dir, backup_every=None).close()  # creates a new record, adds rescued entries
        if keyring:
            key = earlier or DataKey(secrets.token_bytes(KEY_BYTES))
            keep_in_keyring(data_dir, key, passphrase)
        else:
            key = earlier or new_marker(data_dir, passphrase)
        _replace_with_encrypted(db, key)
        done = Encryption(database=True)
    for backup in list_backups(data_dir):
        if not is_plain(backup):
            continue
        try:
            _replace_with_encrypted(backup, key)
            done.backups.append(backup)
        except StorageError as exc:
            done.left_plain.append((backup, str(exc)))
    done.left_plain += [
        (aside, "set aside by `companion backups restore`: delete it once you no longer need it")
        for aside in sorted(data_dir.glob(f"{db.name}.replaced-*"))
        if not aside.name.endswith(SIDECAR_SUFFIXES) and is_plain(aside)
    ]
    return done


def _earlier_key(data_dir: Path, passphrase: str) -> DataKey | None:
    """The key this folder was encrypted with before, when its marker is still here beside a plain record
    (a plain copy put back by hand, an interrupted run). It is used again: a new key would leave the
    backups encrypted with the old one unreadable. A passphrase that does not unlock it is refused while
    such backups exist (nothing is changed); without them the marker is simply replaced, as before."""
    if not marker_path(data_dir).exists():
        return None
    try:
        return unlock(data_dir, passphrase)  # given a passphrase, a keyring marker unwraps its recovery copy
    except WrongKey as exc:
        locked = [backup for backup in list_backups(data_dir) if not is_plain(backup)]
        if locked:
            raise WrongKey(
                exc.path,
                f"{data_dir} was encrypted before, and {len(locked)} backup(s) there, such as "
                f"{locked[-1].name}, are encrypted with that key: give the passphrase it was encrypted "
                "with (for a folder that kept its key in the keyring, its recovery passphrase), so they "
                "stay readable. Nothing was changed.",
            ) from exc
        return None
    except StorageError:  # a marker that cannot be read is replaced, as an interrupted run leaves it
        return None


def _replace_with_encrypted(path: Path, key: DataKey) -> None:
    """Put an encrypted copy of the plain database `path` in its place, or leave `path` as it was."""
    copy = path.with_name(f".{path.name}.encrypting")
    try:
        for leftover in (copy, *(copy.with_name(copy.name + s) for s in SIDECAR_SUFFIXES)):
            leftover.unlink(missing_ok=True)  # from an interrupted run: never renamed, so never the record
        encrypt_file(path, copy, key)
        _same_rows(path, copy, key)
        wal = path.with_name(path.name + "-wal")
        if open_elsewhere(path) or (wal.exists() and wal.stat().st_size > 0):
            raise StorageError(
                path,
                f"{path} was opened by another program while it was being encrypted: "
                "close it, then run `companion encrypt` again. Nothing was changed.",
            )
        os.replace(copy, path)
        sync_folder(path.parent)
    except BaseException as exc:
        copy.unlink(missing_ok=True)
        if isinstance(exc, SQL_OR_OS_ERRORS):
            raise classify(exc, path) from exc
        raise
    for suffix in SIDECAR_SUFFIXES:  # the plain file's (empty) WAL must not be read as the new file's
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _same_rows(plain: Path, copy: Path, key: DataKey) -> None:
    """Every table of the copy has as many rows as the original's, and the copy passes its integrity check."""
    if _row_counts(plain, None) != _row_counts(copy, key):
        raise StorageError(
            plain,
            f"The encrypted copy of {plain} did not match it; nothing was changed. Run `companion encrypt` "
            "again; if it fails again, check the disk.",
        )


def _row_counts(path: Path, key: DataKey | None) -> dict[str, int] | None:
    """Rows per table, or None when the file fails its integrity check."""
    conn = connect(path, key, isolation_level=None)
    try:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            return None
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] for table in tables}
    finally:
        conn.close()
