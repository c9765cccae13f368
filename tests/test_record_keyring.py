"""Encryption at rest with the key in the OS keyring: no prompt to open, a clear line when the keyring or its
entry is missing or wrong, and a recovery passphrase that opens the folder and puts the key back.

The keyring is real: GNOME Keyring's Secret Service on a private D-Bus (`support.secret_service`), reached
by the same `keyring` library the app uses. Where the keyring must be absent, a real process runs with a
bus address nothing listens on. What holds for both kinds of key (rows kept, files unreadable, no file
holding the key, rescue files) is tested on both in `tests/test_record_encryption.py`.
"""

from __future__ import annotations

import os
import pty
import sqlite3
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from support import encrypted_folder as practice
from support.pilot import SIZE, app_for, on_screen, ready
from support.required import missing
from support.secret_service import SecretServiceUnavailable, private_secret_service

from companion.app.screens.today import TodayScreen
from companion.record import KeyNeeded, Record, WrongKey
from companion.record.backups import list_backups, restore_backup
from companion.record.cipher import PLAIN_HEADER
from companion.record.keys import KEYRING_SERVICE, PASSPHRASE_VAR, key_for, read_marker

pytestmark = pytest.mark.sqlite_only  # encryption at rest is of the SQLite files (a server encrypts its own)


@pytest.fixture
def in_keyring(data: Path, os_keyring: str) -> dict[str, int]:
    """A practice encrypted by `companion encrypt --keyring` (recovery passphrase PASSPHRASE), in the test's
    own keyring; no passphrase set. Returns the plain record's rows per table."""
    return practice.encrypted_practice(data, "--keyring")


def entry(data: Path) -> tuple[str, str]:
    """The keyring entry (service, username) the folder's marker names."""
    marker = read_marker(data)
    return str(marker["service"]), str(marker["username"])


def clients(data: Path) -> set[str]:
    with Record.open(data, backup_every=None) as record:
        return {c.display_name for c in record.caseload.clients()}


def error_line(data: Path, passphrase: str | None = None) -> str:
    """The one line `companion clients list` ends with, failing."""
    result = practice.run(data, "clients", "list", passphrase=passphrase)
    assert result.exit_code == 1, result.output
    (line,) = result.output.splitlines()
    assert line.startswith("Error: ")
    return line


def test_a_keyring_folder_opens_with_no_passphrase_and_its_entry_names_the_folder(
    data: Path, in_keyring: dict[str, int]
) -> None:
    marker = read_marker(data)
    assert marker["key_from"] == "keyring"
    service, username = entry(data)
    assert service == KEYRING_SERVICE and username.startswith(f"{data.resolve()} (")
    key = key_for(data)
    assert key is not None and keyring.get_password(service, username) == key.raw.hex()
    with Record.open(data, backup_every=None) as record:
        assert practice.table_counts(record.database.connection) == in_keyring
    listing = practice.run(data, "clients", "list", passphrase=None)
    assert listing.exit_code == 0 and practice.NAME in listing.output
    practice.assert_unreadable(data / "companion.db")
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        sqlite3.connect(data / "companion.db").execute("SELECT * FROM clients").fetchall()


def test_two_folders_have_two_entries_and_two_keys(tmp_path: Path, os_keyring: str) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        practice.encrypted_practice(folder, "--keyring")
    assert entry(first) != entry(second)
    assert key_for(first) != key_for(second)
    assert practice.NAME in clients(first) and practice.NAME in clients(second)


async def test_the_app_opens_a_keyring_folder_with_no_prompt(data: Path, in_keyring: dict[str, int]) -> None:
    app = app_for(data)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, TodayScreen)
        await ready(pilot)
        assert app.services is not None
        assert practice.NAME in {c.display_name for c in app.services.record.caseload.clients()}


def test_a_missing_entry_is_named_the_recovery_passphrase_opens_and_a_rerun_puts_the_key_back(
    data: Path, in_keyring: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring.delete_password(*entry(data))
    with pytest.raises(KeyNeeded, match="is not in this computer's keyring") as missing:
        Record.open(data, backup_every=None)
    assert f"set {PASSPHRASE_VAR} to the recovery passphrase" in str(missing.value)
    assert "`companion encrypt --keyring`" in str(missing.value)
    assert "not in this computer's keyring" in error_line(data)
    with monkeypatch.context() as env:
        env.setenv(PASSPHRASE_VAR, practice.PASSPHRASE)
        assert practice.NAME in clients(data)
        env.setenv(PASSPHRASE_VAR, "not the recovery passphrase")
        with pytest.raises(WrongKey, match=f"The passphrase in {PASSPHRASE_VAR} does not unlock"):
            Record.open(data, backup_every=None)
    refused = practice.run(data, "encrypt", "--keyring", passphrase="not the recovery passphrase")
    assert refused.exit_code == 1 and "does not unlock" in refused.output
    assert keyring.get_password(*entry(data)) is None
    before = read_marker(data)
    again = practice.run(data, "encrypt", "--keyring")
    assert again.exit_code == 0 and "Its key is in this computer's keyring." in again.output
    assert read_marker(data) == before  # the same entry, the same wrapped key: only the keyring changed
    assert practice.NAME in clients(data)


def test_a_changed_entry_is_named_as_a_wrong_key(data: Path, in_keyring: dict[str, int]) -> None:
    for wrong in (os.urandom(32).hex(), "not a key at all"):
        keyring.set_password(*entry(data), wrong)
        with pytest.raises(WrongKey, match="does not unlock") as changed:
            Record.open(data, backup_every=None)
        assert "keyring entry" in str(changed.value) and "`companion encrypt --keyring`" in str(changed.value)
    assert "does not unlock" in error_line(data)
    assert practice.run(data, "encrypt", "--keyring").exit_code == 0
    assert practice.NAME in clients(data)


CLI = "from companion.cli import main; main()"


def test_a_command_in_a_terminal_asks_for_nothing(data: Path, in_keyring: dict[str, int]) -> None:
    """A real pseudo-terminal as stdin, where a passphrase folder would be asked for its passphrase: the
    command runs straight through (a prompt would wait for input until the timeout fails the test)."""
    master, terminal = pty.openpty()
    try:
        listing = subprocess.run(
            [sys.executable, "-c", CLI, "--data-dir", str(data), "clients", "list"],
            stdin=terminal,
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
        )
    finally:
        os.close(terminal)
        os.close(master)
    assert listing.returncode == 0, listing.stderr
    assert practice.NAME in listing.stdout and listing.stderr == ""


NO_BUS_THEN_BUS = """
import os, sys
from pathlib import Path
from companion.record import KeyNeeded, Record
data, bus = Path(sys.argv[1]), sys.argv[2]
try:
    Record.open(data, backup_every=None)
except KeyNeeded as exc:
    print(exc)
os.environ["DBUS_SESSION_BUS_ADDRESS"] = bus  # the therapist started the keyring, then tried again
with Record.open(data, backup_every=None) as record:
    print(len(record.caseload.clients()), "clients")
"""


def without_a_keyring(tmp_path: Path, *args: str, passphrase: str = "") -> subprocess.CompletedProcess[str]:
    """`python *args` in a real process whose session bus address leads nowhere: no keyring answers."""
    env = {
        **os.environ,
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'no-bus'}",
        "PYTHONPATH": str(Path(__file__).parents[1]),
        PASSPHRASE_VAR: passphrase,
    }
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=60)


def test_without_a_keyring_opening_names_the_cause_and_fix_and_a_retry_finds_it_once_it_runs(
    data: Path, in_keyring: dict[str, int], tmp_path: Path, os_keyring: str
) -> None:
    listing = without_a_keyring(tmp_path, "-c", CLI, "--data-dir", str(data), "clients", "list")
    assert listing.returncode == 1 and practice.NAME not in listing.stdout
    (line,) = listing.stderr.splitlines()
    assert (
        "encrypted with a key in the OS keyring, but no keyring answers (none is installed or running)"
        in line
    )
    assert "start your desktop's keyring" in line and f"set {PASSPHRASE_VAR} to the folder's recovery" in line
    retried = without_a_keyring(tmp_path, "-c", NO_BUS_THEN_BUS, str(data), os_keyring)
    assert retried.returncode == 0, retried.stderr
    first, second = retried.stdout.splitlines()
    assert "no keyring answers" in first and second == "4 clients"


def test_encrypt_with_the_keyring_refuses_without_a_keyring_or_a_recovery_passphrase(
    data: Path, tmp_path: Path, os_keyring: str
) -> None:
    counts = practice.plain_practice(data)
    no_keyring = without_a_keyring(
        tmp_path, "-c", CLI, "--data-dir", str(data), "encrypt", "--keyring", passphrase=practice.PASSPHRASE
    )
    assert no_keyring.returncode == 1
    assert (
        "No OS keyring can keep the key" in no_keyring.stderr and "Nothing was changed." in no_keyring.stderr
    )
    no_passphrase = practice.run(data, "encrypt", "--keyring", passphrase=None)
    assert (
        no_passphrase.exit_code == 1
        and f"no recovery passphrase: set {PASSPHRASE_VAR}" in no_passphrase.output
    )
    short = practice.run(data, "encrypt", "--keyring", passphrase="short")
    assert short.exit_code == 1 and "at least 8 characters" in short.output
    assert (data / "companion.db").read_bytes().startswith(PLAIN_HEADER)
    assert not (data / "encryption.json").exists()
    with Record.open(data, backup_every=None) as record:
        assert practice.table_counts(record.database.connection) == counts


def test_backups_old_and_new_use_the_keyring_key_and_restore_with_it(data: Path, os_keyring: str) -> None:
    practice.plain_practice(data)
    Record.open(data).close()  # an automatic backup, still plain
    (old,) = list_backups(data)
    result = practice.run(data, "encrypt", "--keyring")
    assert "1 older backup(s) encrypted as well." in result.output
    practice.assert_unreadable(old)
    with Record.open(data) as record:
        new = record.backups.backup_now()
    practice.assert_unreadable(new)
    restored, aside = restore_backup(data, data / "companion.db", old)
    assert restored == old and aside is not None
    practice.assert_unreadable(aside)
    assert practice.NAME in clients(data)


def test_a_passphrase_folder_moves_its_key_into_the_keyring_and_the_passphrase_stays_its_recovery(
    data: Path, os_keyring: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    practice.encrypted_practice(data)
    key = key_for(data, practice.PASSPHRASE)
    moved = practice.run(data, "encrypt", "--keyring")
    assert moved.exit_code == 0 and "Its key is in this computer's keyring." in moved.output
    assert read_marker(data)["key_from"] == "keyring"
    assert key_for(data) == key  # from the keyring: no passphrase set
    keyring.delete_password(*entry(data))
    monkeypatch.setenv(PASSPHRASE_VAR, practice.PASSPHRASE)
    assert key_for(data) == key


def test_without_the_daemons_the_keyring_fixture_names_the_packages_and_fails_in_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with (
        pytest.raises(SecretServiceUnavailable, match="apt-get install -y dbus-daemon gnome-keyring"),
        private_secret_service(tmp_path),
    ):
        pass
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required in CI"):
        missing("A Secret Service", "dbus-daemon not found")
