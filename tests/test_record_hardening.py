"""Faults found by the hardening audit (issue 14), each kept fixed: an emptied database file, a new data
folder opened by several processes at once, and a data folder left readable by others. Real SQLite files,
real processes."""

from __future__ import annotations

import csv
import errno
import io
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.ordinary_user import as_an_ordinary_user
from support.practice import write_lock

from companion.cli import main
from companion.documents import export as export_module
from companion.documents.export import to_csv
from companion.documents.selection import select
from companion.paths import tighten_data_dir
from companion.record import CorruptDatabase, Count, DiskFull, EventDraft, Note, ReadOnlyLocation, Record
from companion.record.errors import classify
from companion.record.migrations import migrate

OPEN_AT = """
import sys, time
from pathlib import Path
from companion.record import Record
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
with Record.open(Path(sys.argv[1]), backup_every=None) as record:
    record.caseload.add_client("Ava")
"""


@pytest.mark.sqlite_only
def test_an_emptied_database_is_reported_like_a_damaged_one_not_started_over(tmp_path: Path) -> None:
    with Record.open(tmp_path, backup_every=None) as record:
        record.caseload.add_client("Ava")
    (tmp_path / "companion.db").write_bytes(b"")  # truncated by a sync tool or a bad copy
    with pytest.raises(CorruptDatabase, match=r"is empty \(0 bytes\).*companion backups restore"):
        Record.open(tmp_path, backup_every=None)
    assert (tmp_path / "companion.db").stat().st_size == 0  # nothing was written over it


def test_eight_processes_opening_a_new_data_folder_at_once_all_succeed(tmp_path: Path) -> None:
    folder = tmp_path / "new-practice"
    start = time.time() + 1.5
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_AT, str(folder), repr(start)], stderr=subprocess.PIPE, text=True
        )
        for _ in range(8)
    ]
    errors = [(w.wait(timeout=60), w.stderr.read() if w.stderr else "") for w in workers]
    assert [code for code, _ in errors] == [0] * 8, [err for code, err in errors if code]
    with Record.open(folder, backup_every=None) as record:
        assert len(record.caseload.clients()) == 8
    assert not [p.name for p in folder.iterdir() if ".new-" in p.name]  # no temporary file left behind


@pytest.mark.sqlite_only
def test_an_existing_data_folder_open_to_others_is_made_private(tmp_path: Path) -> None:
    folder = tmp_path / "practice"
    with Record.open(folder, backup_every=None) as record:
        record.caseload.add_client("Ava")
    folder.chmod(0o755)  # as an older version or a copy left it
    with Record.open(folder, backup_every=None):
        pass
    assert folder.stat().st_mode & 0o777 == 0o700
    home_like = tmp_path / "home"  # a folder without a record of ours (`--data-dir ~`) is left alone
    home_like.mkdir()
    home_like.chmod(0o755)
    assert tighten_data_dir(home_like).stat().st_mode & 0o777 == 0o755
    folder.chmod(0o555)  # a read-only folder loses group and other access, and gains nothing
    assert tighten_data_dir(folder).stat().st_mode & 0o777 == 0o500
    folder.chmod(0o700)


def test_escape_sequences_in_names_never_reach_the_terminal_and_csv_cells_never_run(tmp_path: Path) -> None:
    """Found by the audit: `clients list` wrote a name's escape sequences raw, and a CSV export kept a
    note starting with = as a formula a spreadsheet runs."""
    data = ["--data-dir", str(tmp_path)]
    with Record.open(tmp_path, backup_every=None) as record:
        client = record.caseload.add_client("Sam\x1b]0;owned\x07\x1b[2J", population='=HYPERLINK("http://x")')
        session = record.sessions.start_session([client.id], "clinic")
        record.events.log(session.id, EventDraft(Note("@SUM(A1:A2) said hello")))
        record.events.log(session.id, EventDraft(Count("turns", -1)))
        record.sessions.end_session(session.id)
    listed = CliRunner().invoke(main, [*data, "clients", "list"])
    assert listed.exit_code == 0 and "\x1b" not in listed.output and "\x07" not in listed.output
    assert "Sam^[]0;owned^G^[[2J" in listed.output
    shown = CliRunner().invoke(main, [*data, "clients", "show", str(client.id)])
    assert shown.exit_code == 0 and "\x1b" not in shown.output
    with Record.open(tmp_path, backup_every=None) as record:
        rows = list(csv.DictReader(io.StringIO(to_csv(select(record, session_id=session.id)))))
    assert [r["text"] for r in rows if r["kind"] == "note"] == ["'@SUM(A1:A2) said hello"]
    assert [r["delta"] for r in rows if r["kind"] == "count"] == ["-1"]  # a number stays a number


@pytest.mark.sqlite_only
def test_a_cli_command_refused_by_the_disk_promises_no_retry(tmp_path: Path) -> None:
    """Found by the audit: CLI commands said "Unsaved entries are kept and retried" though a command keeps
    nothing; the message names the cause and the fix only (the app's pending bar says what it keeps)."""
    with Record.open(tmp_path, backup_every=None) as record:
        record.caseload.add_client("Ava")
        with write_lock(tmp_path / "companion.db"):
            refused = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "clients", "add", "Ben"])
    assert refused.exit_code == 1 and "locked by another program" in refused.output
    assert "retried" not in refused.output and "kept" not in refused.output


def test_an_export_that_cannot_be_written_is_one_clear_line_and_leaves_no_empty_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the audit: a bad --out or a full disk printed a traceback and left a 0-byte file."""
    with Record.open(tmp_path / "data", backup_every=None) as record:
        client = record.caseload.add_client("Ava")
        session = record.sessions.start_session([client.id], "clinic")
        record.sessions.end_session(session.id)
    base = ["--data-dir", str(tmp_path / "data"), "export", str(session.id), "--out"]
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    refused = CliRunner().invoke(main, [*base, str(blocker / "notes.md")])
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert f"{blocker / 'notes.md'} was not written: that is not a file in a folder" in refused.output

    def disk_full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    earlier = tmp_path / "notes.md"
    earlier.write_text("last week's export")
    monkeypatch.setattr(export_module.os, "write", disk_full)  # the disk fills up mid-write
    full = CliRunner().invoke(main, [*base, str(earlier)])
    assert full.exit_code == 1 and "was not written: the disk is full" in full.output
    assert earlier.read_text() == "last week's export"  # the old file stays whole
    assert not [p.name for p in tmp_path.iterdir() if ".part-" in p.name]  # and no half file is left


@pytest.mark.parametrize("command", [["clients", "list"], ["plans", "list"], ["backups", "list"]])
def test_a_data_folder_that_cannot_be_created_is_one_line_naming_the_fix(
    tmp_path: Path, command: list[str]
) -> None:
    """Found by the audit: a --data-dir that cannot be created printed a traceback."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(main, ["--data-dir", str(blocker / "data"), *command])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert f"cannot create the data folder {blocker / 'data'}" in result.output
    assert "--data-dir or COMPANION_DATA_DIR" in result.output


def test_a_disk_full_during_the_first_migration_is_reported_as_a_full_disk(tmp_path: Path) -> None:
    """Found by the audit: it said "cannot rollback - no transaction is active" instead of DiskFull (SQLite
    had already rolled back; `migrate` now rolls back only an open transaction). SQLite's own page limit
    makes the file full for real, part-way through the schema, and the full disk is what is reported."""
    path = tmp_path / "companion.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA max_page_count = 4")
    with pytest.raises(sqlite3.OperationalError, match="full") as raised:
        migrate(conn)
    conn.close()
    assert isinstance(classify(raised.value, path), DiskFull)
    assert "is full" in str(classify(raised.value, path))


HOLD_OPEN = """
import sys, time
from pathlib import Path
from companion.record import EventDraft, Record, Trial
record = Record.open(Path(sys.argv[1]), backup_every=None)
client = record.caseload.add_client("Logged after the backup")
session = record.sessions.start_session([client.id], "clinic")
for _ in range(int(sys.argv[2])):
    record.events.log(session.id, EventDraft(Trial(True, "independent")))
print("acknowledged", flush=True)
time.sleep(60)
"""


@pytest.mark.sqlite_only
def test_restoring_a_backup_refuses_an_open_record_and_keeps_every_tap_of_a_crashed_one(
    tmp_path: Path,
) -> None:
    """Found by the audit: `backups restore` with the record open, or after a crash left a WAL, made
    acknowledged taps disappear (the WAL was renamed away from its database)."""
    data = tmp_path / "data"
    with Record.open(data, backup_every=None) as record:
        record.caseload.add_client("Ava")
        record.backups.backup_now()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_OPEN, str(data), "25"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "acknowledged"
        refused = CliRunner().invoke(main, ["--data-dir", str(data), "backups", "restore"])
        assert refused.exit_code == 1 and "is open in another program" in refused.output
        assert not list(data.glob("*.replaced-*"))  # nothing was changed
    finally:
        holder.kill()  # kill -9 mid-session: the acknowledged taps are in the WAL, not yet in the file
        holder.wait()
    assert (data / "companion.db-wal").stat().st_size > 0
    restored = CliRunner().invoke(main, ["--data-dir", str(data), "backups", "restore"])
    assert restored.exit_code == 0, restored.output
    (aside,) = [p for p in data.glob("companion.db.replaced-*") if not p.name.endswith(("-wal", "-shm"))]
    moved = tmp_path / "moved"
    moved.mkdir()
    for part in data.glob(aside.name + "*"):  # the replaced record, opened as a record of its own
        part.rename(moved / part.name.replace(aside.name, "companion.db"))
    with Record.open(moved, backup_every=None) as replaced:
        (late,) = [c for c in replaced.caseload.clients() if c.display_name == "Logged after the backup"]
        (session,) = replaced.sessions.sessions(late.id)
        assert len(replaced.events.session_events(session.id)) == 25  # every acknowledged tap is there
    with Record.open(data, backup_every=None) as current:
        assert [c.display_name for c in current.caseload.clients()] == ["Ava"]  # the backup is in place


def test_a_read_only_record_names_the_fix_that_works_for_its_cause(tmp_path: Path) -> None:
    """Found by the audit: the message said to chmod the folder whatever was read-only, even on a disk
    mounted read-only, where chmod cannot help."""
    db = tmp_path / "companion.db"
    on_file = str(classify(OSError(errno.EACCES, "Permission denied"), db))
    assert "the file is read-only for this user" in on_file
    assert f"chmod u+w {db} {db}-wal {db}-shm" in on_file
    on_disk = str(classify(OSError(errno.EROFS, "Read-only file system"), db))
    assert "mounted read-only (chmod cannot change that)" in on_disk and "chmod u+w" not in on_disk


def open_read_only_then_writable(folder: Path) -> str:
    with Record.open(folder, backup_every=None) as record:
        session_id = record.sessions.start_session([record.caseload.add_client("Ava").id], "clinic").id
    files = [folder / name for name in ("companion.db", "companion.db-wal", "companion.db-shm")]
    for file in files:
        if file.exists():
            file.chmod(0o400)
    with Record.open(folder, backup_every=None) as record:  # opened while read-only: SQLite's read-only mode
        try:
            record.events.log(session_id, EventDraft(Count("initiation")))
            refused = "not refused"
        except ReadOnlyLocation as problem:
            refused = "refused: chmod u+w" if "chmod u+w" in str(problem) else str(problem)
        for file in files:  # the user follows the message, and the session goes on
            if file.exists():
                file.chmod(0o600)
        flushed = record.events.flush()
        record.events.log(session_id, EventDraft(Count("initiation")))
    with sqlite3.connect(folder / "companion.db") as conn:
        stored = conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'count'").fetchone()[0]
    return f"{refused}; flushed {flushed}; stored {stored}"


@pytest.mark.sqlite_only
def test_a_record_opened_read_only_recovers_in_the_same_process_once_writable_again() -> None:
    """Found by the audit: once the files were writable again, `flush()` kept failing until a restart (SQLite
    had opened the file read-only for good); the next write now reconnects."""
    assert as_an_ordinary_user(open_read_only_then_writable) == "refused: chmod u+w; flushed 1; stored 2"
