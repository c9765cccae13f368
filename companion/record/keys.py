"""Where an encrypted data folder's key comes from: a passphrase, stretched with scrypt.

The folder's marker `encryption.json` (0600) says the folder is encrypted and holds what turning the
passphrase back into the key needs: scrypt's salt and cost, and a short check value so a mistyped
passphrase is named as such instead of surfacing as a "damaged database". It never holds the key.

The passphrase comes from `COMPANION_PASSPHRASE` (scripts, tests, a browser session's server) or is typed
at a terminal by the command line, which then hands the key down. Keeping a random key in the OS keyring
instead is not offered yet: `key_from` in the marker names the source, so it can be added.

Whether a folder *is* encrypted is read from the database itself (its first bytes), not from the marker
alone: `companion encrypt` writes the marker before it replaces the database, so an interruption between
the two leaves a plain database that keeps opening as one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from companion.paths import PRIVATE_FILE_MODE, database_path
from companion.record.cipher import KEY_BYTES, DataKey, fsync_file, is_plain
from companion.record.database import sync_folder
from companion.record.errors import KeyNeeded, StorageError, WrongKey

MARKER_NAME = "encryption.json"
PASSPHRASE_VAR = "COMPANION_PASSPHRASE"
MIN_PASSPHRASE = 8
SCRYPT_COST = {"n": 2**15, "r": 8, "p": 1}
"""About 0.1 s and 32 MiB per derivation: paid once per open, costly for anyone guessing passphrases."""
_CHECK_LABEL = b"companion data key check"


def marker_path(data_dir: Path) -> Path:
    return data_dir / MARKER_NAME


def encrypted(data_dir: Path) -> bool:
    """Whether the folder's record is encrypted: a marker, and a database that is not plain SQLite. A
    database this user cannot read is left to opening it, which says why and what to do."""
    db = database_path(data_dir)
    if not (marker_path(data_dir).exists() and db.exists()):
        return False
    try:
        return db.stat().st_size > 0 and not is_plain(db)
    except OSError:
        return False


def new_marker(data_dir: Path, passphrase: str) -> DataKey:
    """Write a fresh marker (new salt) for `passphrase`, durably, and return the key it leads to."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise ValueError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
    marker = {"format": 1, "key_from": "passphrase", "kdf": "scrypt", **SCRYPT_COST}
    marker["salt"] = secrets.token_hex(16)
    key = _stretch(passphrase, marker)
    marker["check"] = _check(key)
    path = marker_path(data_dir)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(marker, file, indent=2)
    fsync_file(temporary)
    os.replace(temporary, path)
    sync_folder(data_dir)
    return key


def key_for(data_dir: Path, passphrase: str | None = None) -> DataKey | None:
    """The folder's key (None for a plain folder), from `passphrase` or else `COMPANION_PASSPHRASE`.

    Raises KeyNeeded when there is neither, WrongKey when the passphrase does not match the marker."""
    return unlock(data_dir, passphrase) if encrypted(data_dir) else None


def unlock(data_dir: Path, passphrase: str | None = None) -> DataKey:
    """The key of a folder with a marker, whatever state its database is in (restoring a backup over a
    damaged one needs the key too); the passphrase as for `key_for`."""
    db = database_path(data_dir)
    source = "as typed"
    if passphrase is None:
        passphrase = os.environ.get(PASSPHRASE_VAR)
        source = f"in {PASSPHRASE_VAR}"
    if not passphrase:
        raise KeyNeeded(
            db,
            f"{db} is encrypted: set {PASSPHRASE_VAR} or run Companion from a terminal to type the "
            "passphrase.",
        )
    marker = read_marker(data_dir)
    key = _stretch(passphrase, marker)
    if not hmac.compare_digest(_check(key), str(marker.get("check", ""))):
        raise WrongKey(
            db,
            f"The passphrase {source} does not unlock {db}: check it (letters, case and spaces count) "
            "and try again.",
        )
    return key


def read_marker(data_dir: Path) -> dict[str, object]:
    path = marker_path(data_dir)
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
        if marker.get("format") != 1 or marker.get("kdf") != "scrypt":
            raise ValueError("an unknown format")
        missing = [field for field in ("salt", "n", "r", "p", "check") if field not in marker]
        if missing:
            raise ValueError(f"no {', '.join(missing)}")
        return dict(marker)
    except (OSError, ValueError, AttributeError) as exc:
        raise StorageError(
            path,
            f"The encryption marker {path} cannot be read ({exc}): without it the passphrase cannot "
            "unlock the record. Restore it from where the data folder was copied from.",
        ) from exc


def _stretch(passphrase: str, marker: dict[str, object]) -> DataKey:
    n, r, p = (int(str(marker[name])) for name in ("n", "r", "p"))
    raw = hashlib.scrypt(
        passphrase.encode("utf-8"),
        salt=bytes.fromhex(str(marker["salt"])),
        n=n,
        r=r,
        p=p,
        maxmem=2 * 128 * r * n,
        dklen=KEY_BYTES,
    )
    return DataKey(raw)


def _check(key: DataKey) -> str:
    return hmac.new(key.raw, _CHECK_LABEL, hashlib.sha256).hexdigest()[:16]
