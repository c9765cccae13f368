"""Encryption at rest: an encrypted data folder cannot be read without its passphrase, and loses nothing.

Real files throughout: the bytes on disk are searched for a client's name and SQLite's header, the plain
standard library is pointed at the files, and `companion encrypt` is killed half-way in a real process.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import sqlite3
import stat
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from support.encrypted_folder import (
    NAME,
    NOTE,
    PASSPHRASE,
    assert_unreadable,
    encrypted_practice,
    plain_practice,
    run,
    table_counts,
)
from support.pilot import SIZE, app_for, on_screen, ready

from companion.app.screens.problem import StartupProblem
from companion.app.screens.today import TodayScreen
from companion.record import CorruptDatabase, DatabaseLocked, EventDraft, KeyNeeded, Note, Record, WrongKey
from companion.record.backups import list_backups, restore_backup
from companion.record.cipher import PLAIN_HEADER, connect
from companion.record.keys import PASSPHRASE_VAR, key_for
from companion.record.rescue import rescue_places, rescue_prefix, rescued_files

pytestmark = pytest.mark.sqlite_only  # encryption at rest is of the SQLite files (a server encrypts its own)


@pytest.fixture
def encrypted(data: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """A practice encrypted by `companion encrypt`; COMPANION_PASSPHRASE set for the test. Returns the
    plain record's rows per table."""
    counts = encrypted_practice(data)
    monkeypatch.setenv(PASSPHRASE_VAR, PASSPHRASE)
    return counts


@pytest.fixture(params=["passphrase", "keyring"])
def either_encrypted(request: pytest.FixtureRequest, data: Path) -> dict[str, int]:
    """`encrypted`, or encrypted with `--keyring` in the test's own keyring with no passphrase set: what
    holds for both kinds of key is tested on both."""
    if request.param == "passphrase":
        return request.getfixturevalue("encrypted")
    request.getfixturevalue("os_keyring")
    return encrypted_practice(data, "--keyring")


def test_encrypt_keeps_every_row_and_the_file_reads_as_noise(
    data: Path, either_encrypted: dict[str, int]
) -> None:
    db = data / "companion.db"
    assert_unreadable(db)
    assert sorted(p.name for p in data.iterdir() if p.name.startswith("companion.db")) == ["companion.db"]
    with Record.open(data, backup_every=None) as record:
        assert table_counts(record.database.connection) == either_encrypted
        assert {c.display_name for c in record.caseload.clients()} == {"Ava", "Ben", "Cleo", NAME}
        ours = record.caseload.find_client(NAME)
        assert ours.birth_year == 1961
        (session,) = record.sessions.sessions(client_id=ours.id)
        notes = [e.payload for e in record.events.session_events(session.id)]
        assert notes == [Note(NOTE)]
        ava = record.caseload.find_client("Ava")
        assert len(record.sessions.sessions(client_id=ava.id)) == 4
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        sqlite3.connect(db).execute("SELECT * FROM clients").fetchall()
    with Record.open(data, backup_every=None) as record:  # the WAL, while the record is open, too
        record.events.log(session.id, EventDraft(Note(f"{NOTE}, twice")))
        assert_unreadable(data / "companion.db-wal")


def test_a_missing_marker_is_named_not_just_damage(
    data: Path, encrypted: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = (data / "encryption.json").read_bytes()
    (data / "encryption.json").unlink()
    with pytest.raises(CorruptDatabase, match=r"its encryption\.json is missing: copy it back"):
        Record.open(data, backup_every=None)
    (data / "encryption.json").write_bytes(marker)
    Record.open(data, backup_every=None).close()


def test_without_the_passphrase_the_record_says_how_to_give_it(
    data: Path, encrypted: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSPHRASE_VAR)
    with pytest.raises(KeyNeeded, match=f"companion.db is encrypted: set {PASSPHRASE_VAR} or run"):
        Record.open(data, backup_every=None)
    result = run(data, "clients", "list", passphrase=None)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    (line,) = result.output.splitlines()
    assert line.startswith("Error: ") and f"set {PASSPHRASE_VAR}" in line and "terminal" in line


def test_a_wrong_passphrase_is_named_as_such(
    data: Path, encrypted: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSPHRASE_VAR, "correct horse battery!")
    with pytest.raises(WrongKey, match=f"The passphrase in {PASSPHRASE_VAR} does not unlock"):
        Record.open(data, backup_every=None)
    result = run(data, "clients", "list", passphrase="Correct horse battery")
    assert result.exit_code == 1
    (line,) = result.output.splitlines()
    assert "does not unlock" in line and "check it" in line
    assert NAME in run(data, "clients", "list").output


def test_a_file_from_another_folder_is_not_called_damaged_in_silence(
    data: Path, encrypted: dict[str, int], tmp_path: Path
) -> None:
    """The marker's check passes but the file was encrypted with another key: said, nothing changed."""
    other = tmp_path / "other"
    plain_practice(other)
    assert run(other, "encrypt", passphrase=PASSPHRASE).exit_code == 0
    before = (data / "companion.db").read_bytes()
    (data / "companion.db").write_bytes((other / "companion.db").read_bytes())
    with pytest.raises(WrongKey, match="cannot be read with this data folder's key"):
        Record.open(data, backup_every=None)
    (data / "companion.db").write_bytes(before)
    Record.open(data, backup_every=None).close()


def test_backups_are_encrypted_and_restore_with_the_key(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain_practice(data)
    Record.open(data).close()  # an automatic backup, still plain
    (old,) = list_backups(data)
    assert old.read_bytes().startswith(PLAIN_HEADER)
    result = run(data, "encrypt")
    assert "1 older backup(s) encrypted as well." in result.output
    assert_unreadable(old)
    with monkeypatch.context() as env:
        env.setenv(PASSPHRASE_VAR, PASSPHRASE)
        with Record.open(data) as record:
            new = record.backups.backup_now()
        assert_unreadable(new)
        restored, aside = restore_backup(data, data / "companion.db", new)
        assert restored == new and aside is not None
        assert_unreadable(aside)
        with Record.open(data, backup_every=None) as record:
            assert record.caseload.find_client(NAME).birth_year == 1961
    listing = run(data, "backups", "restore", str(old), passphrase="not the one at all")
    assert listing.exit_code == 1 and "does not unlock" in listing.output


def test_rescue_files_of_an_encrypted_folder_are_encrypted(
    data: Path, either_encrypted: dict[str, int]
) -> None:
    key = key_for(data)
    record = Record.open(data, busy_timeout=0.1, backup_every=None)
    session = record.sessions.start_session([record.caseload.find_client(NAME).id])
    blocker = connect(data / "companion.db", key, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(DatabaseLocked):
        record.events.log(session.id, EventDraft(Note(NOTE)))
    (rescue,) = rescued_files(rescue_places(data), rescue_prefix(record.path))
    assert_unreadable(rescue)
    assert stat.S_IMODE(rescue.stat().st_mode) == 0o600
    blocker.execute("ROLLBACK")
    blocker.close()
    with Record.open(data, backup_every=None) as reopened:  # as the next start after a crash
        assert reopened.events.restored == 1
        assert [e.payload for e in reopened.events.session_events(session.id)] == [Note(NOTE)]
    assert not rescue.exists()
    record.close()


def test_files_stay_private_no_file_holds_the_key_and_exports_stay_plain(
    data: Path, either_encrypted: dict[str, int]
) -> None:
    with Record.open(data) as record:
        backup = record.backups.backup_now()
    for path in (data / "companion.db", data / "encryption.json", backup):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in (data, backup.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    key = key_for(data)
    assert key is not None
    for path in (p for p in data.rglob("*") if p.is_file()):
        content = path.read_bytes()
        for secret in (PASSPHRASE.encode(), key.raw, key.raw.hex().encode()):
            assert secret not in content, path
    out = data / "exports" / "ours.csv"
    result = run(data, "export", "--client", NAME, "--format", "csv", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert NOTE in out.read_text()


def test_encrypt_refuses_a_short_passphrase_and_a_rerun_needs_the_same_one(data: Path) -> None:
    counts = plain_practice(data)
    short = run(data, "encrypt", passphrase="short")
    assert short.exit_code == 1 and "at least 8 characters" in short.output
    assert (data / "companion.db").read_bytes().startswith(PLAIN_HEADER)
    assert run(data, "encrypt").exit_code == 0
    again = run(data, "encrypt")
    assert again.exit_code == 0 and "already encrypted" in again.output
    other = run(data, "encrypt", passphrase="another passphrase")
    assert other.exit_code == 1 and "does not unlock" in other.output
    conn = connect(data / "companion.db", key_for(data, PASSPHRASE))
    assert table_counts(conn) == counts
    conn.close()


HOLD_SCRIPT = """
import sys
from pathlib import Path
from companion.record import Record
with Record.open(Path(sys.argv[1]), backup_every=None):
    print("open", flush=True)
    sys.stdin.read()
"""


def python(script: str, data: Path, **options: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    return subprocess.Popen([sys.executable, "-c", script, str(data)], env=env, text=True, **options)


def test_encrypt_refuses_while_another_program_has_the_record_open(data: Path) -> None:
    plain_practice(data)
    holder = python(HOLD_SCRIPT, data, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline() == "open\n"
    result = run(data, "encrypt")
    holder.communicate("")
    assert result.exit_code == 1 and "open in another program" in result.output
    assert (data / "companion.db").read_bytes().startswith(PLAIN_HEADER)


KILL_SCRIPT = """
import sys
from pathlib import Path
from companion.record.encryption import encrypt_folder
encrypt_folder(Path(sys.argv[1]), "correct horse battery")
"""


def test_killed_half_way_the_plain_record_is_intact_and_a_rerun_finishes(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kill -9` once the encrypted copy is being written: the plain record opens with every row (the
    marker beside it changes nothing), and `companion encrypt` again completes."""
    plain_practice(data)
    with Record.open(data, backup_every=None) as record:  # enough rows that the copy takes a while
        session = record.sessions.sessions()[0]
        record.events.log_many(session.id, [EventDraft(Note(f"{NOTE} {i}")) for i in range(20000)])
    with Record.open(data, backup_every=None) as record:
        counts = table_counts(record.database.connection)
    copy = data / ".companion.db.encrypting"
    process = python(KILL_SCRIPT, data)
    deadline = time.monotonic() + 60
    while not copy.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.0005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "encryption finished before it could be interrupted"
    assert (data / "companion.db").read_bytes().startswith(PLAIN_HEADER)
    assert (data / "encryption.json").exists()
    with Record.open(data, backup_every=None) as record:
        assert table_counts(record.database.connection) == counts
    assert run(data, "encrypt").exit_code == 0
    assert not copy.exists()
    monkeypatch.setenv(PASSPHRASE_VAR, PASSPHRASE)
    with Record.open(data, backup_every=None) as record:
        assert table_counts(record.database.connection) == counts
    assert_unreadable(data / "companion.db")


async def test_the_app_explains_a_missing_passphrase_and_opens_once_it_is_given(
    data: Path, encrypted: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSPHRASE_VAR)
    app = app_for(data)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, StartupProblem)
        message = str(app.screen.query_one("#message").render())
        assert f"companion.db is encrypted: set {PASSPHRASE_VAR}" in message
        monkeypatch.setenv(PASSPHRASE_VAR, PASSPHRASE)
        await pilot.press("r")
        await on_screen(pilot, TodayScreen)
        await ready(pilot)
        assert app.services is not None
        assert NAME in {c.display_name for c in app.services.record.caseload.clients()}


def test_a_terminal_is_asked_for_the_passphrase_and_may_try_again(
    data: Path, encrypted: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real pseudo-terminal as the command's controlling terminal: a wrong passphrase is named, the
    right one opens the record, and nothing typed is echoed."""
    monkeypatch.delenv(PASSPHRASE_VAR)
    master, slave = pty.openpty()

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    command = [sys.executable, "-c", "from companion.cli import main; main()", "--data-dir", str(data)]
    process = subprocess.Popen(
        [*command, "clients", "list"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        preexec_fn=own_terminal,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    os.close(slave)
    shown = b""

    def read(until: bytes, times: int) -> None:
        nonlocal shown
        deadline = time.monotonic() + 30
        while shown.count(until) < times and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    shown += os.read(master, 4096)
                except OSError:  # the command ended
                    return

    for times, typed in enumerate(("Correct horse battery", PASSPHRASE), start=1):
        read(b"Passphrase for", times)
        deadline = time.monotonic() + 30  # the prompt turns echo off (and drops early keys) after showing
        while termios.tcgetattr(master)[3] & termios.ECHO and time.monotonic() < deadline:
            time.sleep(0.005)
        os.write(master, typed.encode() + b"\n")
    read(NAME.encode(), 1)
    assert process.wait(timeout=30) == 0
    os.close(master)
    text = shown.decode()
    assert "That passphrase does not unlock it; try again." in text
    assert NAME in text and "horse" not in text


def test_encrypting_again_after_a_plain_record_was_put_back_keeps_the_backups_readable(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain copy of the record put back in an encrypted folder (by hand, from an old copy), then
    `companion encrypt` again: the folder's earlier key is used again, or the backups encrypted with it
    could no longer be opened. Another passphrase is refused while they exist, with nothing changed."""
    plain_practice(data)
    Record.open(data).close()  # an automatic backup
    assert run(data, "encrypt").exit_code == 0
    (backup,) = list_backups(data)
    marker = (data / "encryption.json").read_text()
    plain_practice(tmp_path / "old copy")
    (data / "companion.db").write_bytes((tmp_path / "old copy" / "companion.db").read_bytes())

    refused = run(data, "encrypt", passphrase="another passphrase entirely")
    assert (
        refused.exit_code == 1
        and "encrypted with that key" in refused.output
        and backup.name in refused.output
    )
    assert (data / "encryption.json").read_text() == marker
    assert (data / "companion.db").read_bytes().startswith(PLAIN_HEADER)  # nothing changed

    assert run(data, "encrypt").exit_code == 0
    assert (data / "encryption.json").read_text() == marker  # the same key, not a new salt
    assert_unreadable(data / "companion.db")
    monkeypatch.setenv(PASSPHRASE_VAR, PASSPHRASE)
    restore_backup(data, data / "companion.db", backup)  # the older backup still opens
    with Record.open(data, backup_every=None) as record:
        assert record.caseload.find_client(NAME).birth_year == 1961
