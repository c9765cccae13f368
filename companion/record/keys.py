"""Where an encrypted data folder's key comes from: a passphrase stretched with scrypt, or the OS keyring.

The folder's marker `encryption.json` (0600) says the folder is encrypted, where its key comes from
(`key_from`), and a short check value so a wrong key is named as such instead of surfacing as a "damaged
database". It never holds the key.

- `key_from: "passphrase"`: the key is the passphrase stretched with scrypt; the marker holds the salt and
  cost. The passphrase comes from `COMPANION_PASSPHRASE` (scripts, tests, a browser session's server) or is
  typed at a terminal by the command line, which then hands the key down.
- `key_from: "keyring"` (`companion encrypt --keyring`): the key is 32 random bytes kept in the OS keyring
  (`os_keyring`) under an entry naming the folder, so the app opens it with no prompt. Losing that entry
  (a reinstalled or another computer, another user) must not lose the record, so such a folder always has a
  recovery passphrase too: the marker holds the key XORed with the recovery passphrase's scrypt stretch
  (a one-time pad: a fresh salt each time makes the stretch used once). Given that passphrase
  (`COMPANION_PASSPHRASE`), the folder opens without the keyring, and `companion encrypt --keyring` puts
  the key back in it.

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
from companion.record import os_keyring
from companion.record.cipher import KEY_BYTES, DataKey, fsync_file, is_plain
from companion.record.database import sync_folder
from companion.record.errors import KeyNeeded, StorageError, WrongKey

MARKER_NAME = "encryption.json"
PASSPHRASE_VAR = "COMPANION_PASSPHRASE"
MIN_PASSPHRASE = 8
SCRYPT_COST = {"n": 2**15, "r": 8, "p": 1}
"""About 0.1 s and 32 MiB per derivation: paid once per open, costly for anyone guessing passphrases."""
KEYRING_SERVICE = "Companion data folder"
"""The keyring entry's service; its username is the folder's path and a random id (`new_keyring_marker`)."""
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
    marker = _stretch_settings(passphrase, "passphrase")
    key = _stretch(passphrase, marker)
    marker["check"] = _check(key)
    _write_marker(data_dir, marker)
    return key


def keep_in_keyring(data_dir: Path, key: DataKey, recovery_passphrase: str) -> None:
    """Keep `key` in the OS keyring and make the marker say so, with `key` wrapped by the recovery passphrase.

    The keyring entry is written first: a keyring that refuses leaves the folder as it was. A marker that
    already names a keyring entry for this very key keeps it (a rerun puts a lost key back where the marker
    looks); any other key gets a username no other entry has, so no key is ever overwritten: not the one of
    a folder that was moved away from this path, nor an older key of this folder that encrypted backups may
    still need. Raises KeyNeeded when no keyring answers."""
    marker = _stretch_settings(recovery_passphrase, "keyring")  # a short passphrase is refused first
    old = _marker_if_readable(data_dir)
    same_key = old.get("key_from") == "keyring" and old.get("check") == _check(key)
    if same_key:
        service, username = str(old["service"]), str(old["username"])
    else:
        service, username = KEYRING_SERVICE, f"{data_dir.resolve()} ({secrets.token_hex(4)})"
    try:
        os_keyring.store(service, username, key.raw.hex())
    except os_keyring.KeyringUnavailable as exc:
        raise KeyNeeded(
            database_path(data_dir),
            f"No OS keyring can keep the key of {data_dir} ({exc}): unlock or start your desktop's keyring "
            "(GNOME Keyring, KWallet, Keychain), or run `companion encrypt` without --keyring to use only "
            "a passphrase. Nothing was changed.",
        ) from exc
    if same_key:
        return
    marker |= {"service": service, "username": username, "check": _check(key)}
    marker["wrapped"] = _xor(key.raw, _stretch(recovery_passphrase, marker).raw).hex()
    _write_marker(data_dir, marker)


def key_for(data_dir: Path, passphrase: str | None = None) -> DataKey | None:
    """The folder's key (None for a plain folder), from `passphrase` or else `COMPANION_PASSPHRASE`, or
    from the OS keyring for a folder that keeps its key there.

    Raises KeyNeeded when there is none of these, WrongKey when the one there does not match the marker."""
    return unlock(data_dir, passphrase) if encrypted(data_dir) else None


def unlock(data_dir: Path, passphrase: str | None = None) -> DataKey:
    """The key of a folder with a marker, whatever state its database is in (restoring a backup over a
    damaged one needs the key too). A keyring folder takes it from the keyring unless `passphrase` is given
    (its recovery passphrase); when the keyring fails, `COMPANION_PASSPHRASE` opens it instead."""
    db = database_path(data_dir)
    marker = read_marker(data_dir)
    if passphrase is None and marker["key_from"] == "keyring":
        try:
            return _from_keyring(db, marker)
        except (KeyNeeded, WrongKey):
            if not os.environ.get(PASSPHRASE_VAR):
                raise
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
    key = _stretch(passphrase, marker)
    if marker["key_from"] == "keyring":  # the recovery passphrase: its stretch unwraps the random key
        key = DataKey(_xor(key.raw, bytes.fromhex(str(marker["wrapped"]))))
    if not hmac.compare_digest(_check(key), str(marker["check"])):
        raise WrongKey(
            db,
            f"The passphrase {source} does not unlock {db}: check it (letters, case and spaces count) "
            "and try again.",
        )
    return key


def _from_keyring(db: Path, marker: dict[str, object]) -> DataKey:
    entry = f"'{marker['username']}' of '{marker['service']}'"
    try:
        stored = os_keyring.fetch(str(marker["service"]), str(marker["username"]))
    except os_keyring.KeyringUnavailable as exc:
        raise KeyNeeded(
            db,
            f"{db} is encrypted with a key in the OS keyring, but no keyring answers ({exc}): unlock or "
            f"start your desktop's keyring (GNOME Keyring, KWallet, Keychain), or set {PASSPHRASE_VAR} to "
            "the folder's recovery passphrase.",
        ) from exc
    if stored is None:
        raise KeyNeeded(
            db,
            f"The key of {db} is not in this computer's keyring (entry {entry}: removed, or another "
            f"computer or user): set {PASSPHRASE_VAR} to the recovery passphrase, or run `companion "
            "encrypt --keyring` to put the key back.",
        )
    try:
        key = DataKey(bytes.fromhex(stored))
        matches = hmac.compare_digest(_check(key), str(marker["check"]))
    except ValueError:  # not 64 hex digits: not a key this folder wrote
        matches = False
    if not matches:
        raise WrongKey(
            db,
            f"The key in the keyring entry {entry} does not unlock {db} (the entry was changed): run "
            "`companion encrypt --keyring` with the recovery passphrase to put the right key back.",
        )
    return key


def uses_keyring(data_dir: Path) -> bool:
    """Whether the folder's key is kept in the OS keyring (so nothing is to be typed to open it)."""
    return read_marker(data_dir)["key_from"] == "keyring"


def read_marker(data_dir: Path) -> dict[str, object]:
    path = marker_path(data_dir)
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
        if marker.get("format") != 1 or marker.get("kdf") != "scrypt":
            raise ValueError("an unknown format")
        key_from = marker.get("key_from")
        if key_from not in ("passphrase", "keyring"):
            raise ValueError(f"an unknown key source {key_from!r}")
        fields = ["salt", "n", "r", "p", "check"]
        if key_from == "keyring":
            fields += ["service", "username", "wrapped"]
        missing = [field for field in fields if field not in marker]
        if missing:
            raise ValueError(f"no {', '.join(missing)}")
        if key_from == "keyring" and len(bytes.fromhex(str(marker["wrapped"]))) != KEY_BYTES:
            raise ValueError("a wrapped key of the wrong length")
        return dict(marker)
    except (OSError, ValueError, AttributeError) as exc:
        raise StorageError(
            path,
            f"The encryption marker {path} cannot be read ({exc}): without it the key cannot unlock the "
            "record. Restore it from where the data folder was copied from.",
        ) from exc


def _marker_if_readable(data_dir: Path) -> dict[str, object]:
    """The marker, or nothing: one left beside a plain record by an interrupted `companion encrypt` is
    replaced, whatever state it is in."""
    try:
        return read_marker(data_dir)
    except StorageError:
        return {}


def _stretch_settings(passphrase: str, key_from: str) -> dict[str, object]:
    """A new marker's fields for stretching `passphrase`: scrypt's cost and a fresh salt."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise ValueError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
    return {"format": 1, "key_from": key_from, "kdf": "scrypt", **SCRYPT_COST, "salt": secrets.token_hex(16)}


def _write_marker(data_dir: Path, marker: dict[str, object]) -> None:
    """Replace the marker in one step, on the disk before the record is touched."""
    path = marker_path(data_dir)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, PRIVATE_FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(marker, file, indent=2)
    fsync_file(temporary)
    os.replace(temporary, path)
    sync_folder(data_dir)


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


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _check(key: DataKey) -> str:
    return hmac.new(key.raw, _CHECK_LABEL, hashlib.sha256).hexdigest()[:16]
