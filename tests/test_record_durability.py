"""Bad conditions on real files: locked database, full disk, read-only folder, corrupt file, kill -9 and a
second process writing at the same time. Every acknowledged event must survive; every failed one must be
kept pending and retried, never dropped."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.raw_record import raw_connection

from companion.record import (
    CorruptDatabase,
    Count,
    DatabaseLocked,
    DiskFull,
    EventDraft,
    Note,
    ReadOnlyLocation,
    Record,
)


def stored_ids(data: Path, session_id: int) -> list[str]:
    with Record.open(data, backup_every=None) as reopened:
        return [e.id for e in reopened.events.session_events(session_id, include_pending=False)]


@pytest.mark.sqlite_only  # a locked server leaves taps waiting in the outbox: tests/test_server_sync.py
def test_locked_database_keeps_events_pending_and_retries(impatient_record: Record) -> None:
    record = impatient_record
    session = record.sessions.start_session([record.caseload.add_client("Ava").id])
    first = record.events.log(session.id, EventDraft(Count("initiation")))
    with raw_connection(record.data_dir) as blocker:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(DatabaseLocked) as raised:
            record.events.log(session.id, EventDraft(Count("initiation")))
        assert record.database.where in str(raised.value) and "close the other program" in str(raised.value)
        with pytest.raises(DatabaseLocked):
            record.events.log(session.id, EventDraft(Count("vocalisation")))
        queued = record.events.pending()
        assert [e.kind for e in queued] == ["count", "count"]
        assert len(record.events.session_events(session.id)) == 3  # the screen shows the taps as pending
        blocker.execute("COMMIT")
    assert record.events.flush() == 2
    assert record.events.pending() == []
    assert stored_ids(record.data_dir, session.id) == [first.id, *(e.id for e in queued)]


@pytest.mark.sqlite_only
def test_disk_full_keeps_events_pending_until_space_returns(impatient_record: Record) -> None:
    record = impatient_record
    session = record.sessions.start_session([record.caseload.add_client("Ava").id])
    conn = record.database.connection
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # a real SQLITE_FULL once two more pages are used
    acknowledged = []
    with pytest.raises(DiskFull) as raised:
        for i in range(200):
            acknowledged.append(
                record.events.log(session.id, EventDraft(Note(f"observation {i} " + "x" * 500))).id
            )
    assert str(record.path) in str(raised.value) and "free some space" in str(raised.value)
    assert len(record.events.pending()) == 1
    with pytest.raises(DiskFull):
        record.events.log(session.id, EventDraft(Count("initiation")))
    held = [e.id for e in record.events.pending()]
    assert len(held) == 2
    conn.execute("PRAGMA max_page_count = 1000000")
    assert record.events.flush() == 2
    assert stored_ids(record.data_dir, session.id) == acknowledged + held


@pytest.mark.sqlite_only
def test_corrupt_file_is_named_and_left_untouched(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Record.open(data, backup_every=None) as record:
        record.caseload.add_client("Ava")
        record.backups.backup_now()
    db = data / "companion.db"
    db.write_bytes(b"this is not a database, it is a shopping list\n" * 100)
    before = db.read_bytes()
    with pytest.raises(CorruptDatabase) as raised:
        Record.open(data, backup_every=None)
    message = str(raised.value)
    assert str(db) in message and "companion backups restore" in message
    assert db.read_bytes() == before


@pytest.mark.sqlite_only
def test_damaged_page_fails_the_integrity_check(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Record.open(data, backup_every=None) as record:
        session = record.sessions.start_session([record.caseload.add_client("Ava").id])
        record.events.log_many(session.id, [EventDraft(Note("n" * 300)) for _ in range(200)])
        record.database.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db = data / "companion.db"
    raw = bytearray(db.read_bytes())
    page = 4096
    raw[page * 3 : page * 3 + 64] = b"\xff" * 64  # scribble over an interior b-tree page header
    db.write_bytes(bytes(raw))
    with pytest.raises(CorruptDatabase, match=r"damaged|integrity"):
        Record.open(data, backup_every=None)


WORKER_PRELUDE = """
import sys
from pathlib import Path
from companion.record import Count, EventDraft, Record
"""


def run_python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER_PRELUDE + code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


LOG_FOREVER = """
record = Record.open(Path(sys.argv[1]), backup_every=None)
session_id, client_id = int(sys.argv[2]), int(sys.argv[3])
while True:
    event = record.events.log(session_id, EventDraft(Count("step"), client_id=client_id))
    print(event.id, flush=True)
"""


@pytest.mark.parametrize("kill_after", [1, 37, 150])
def test_kill_minus_nine_loses_no_acknowledged_event(tmp_path: Path, kill_after: int) -> None:
    data = tmp_path / "data"
    with Record.open(data, backup_every=None) as record:
        client = record.caseload.add_client("Ava")
        session = record.sessions.start_session([client.id])
    worker = run_python(LOG_FOREVER, str(data), str(session.id), str(client.id))
    assert worker.stdout is not None
    acknowledged = []
    while len(acknowledged) < kill_after:
        line = worker.stdout.readline()
        assert line, f"worker died early: {worker.stderr.read() if worker.stderr else ''}"
        acknowledged.append(line.strip())
    os.kill(worker.pid, signal.SIGKILL)
    rest, _ = worker.communicate(timeout=30)
    acknowledged += [line for line in rest.split() if len(line) == 32]  # printed before the kill landed
    assert worker.returncode == -signal.SIGKILL
    stored = stored_ids(data, session.id)
    assert set(acknowledged) <= set(stored)
    assert stored[: len(acknowledged)] == acknowledged


LOG_N = """
record = Record.open(Path(sys.argv[1]), backup_every=None)
session_id, client_id, n = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for _ in range(n):
    print(record.events.log(session_id, EventDraft(Count("hit"), client_id=client_id)).id, flush=True)
record.close()
"""


def test_two_processes_write_the_same_session_at_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Record.open(data, backup_every=None) as record:
        ava, ben = record.caseload.add_client("Ava"), record.caseload.add_client("Ben")
        session = record.sessions.start_session([ava.id, ben.id], "drum circle")
    workers = [run_python(LOG_N, str(data), str(session.id), str(c.id), "150") for c in (ava, ben)]
    outputs = [w.communicate(timeout=120) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    written = [out.split() for out, _ in outputs]
    with Record.open(data, backup_every=None) as reopened:
        summary = reopened.progress.summary(session.id)
        stored = {e.id for e in reopened.events.session_events(session.id)}
    assert stored == set(written[0]) | set(written[1]) and len(stored) == 300
    assert [g.counts["hit"].total for g in summary.groups] == [150, 150]


def test_a_second_record_sees_events_at_once(impatient_record: Record) -> None:
    record = impatient_record
    session = record.sessions.start_session([record.caseload.add_client("Ava").id])
    with Record.open(record.data_dir, backup_every=None) as beside:
        assert beside.events.session_events(session.id) == []
        event = record.events.log(session.id, EventDraft(Count("smile")))
        assert [e.id for e in beside.events.session_events(session.id)] == [event.id]


OPEN_READ_ONLY = """
from companion.record import ReadOnlyLocation
try:
    Record.open(Path(sys.argv[1]), backup_every=None)
except ReadOnlyLocation as exc:
    print(exc)
"""
# Root ignores file modes; without these capabilities it obeys them like any user.
DROP_ROOT_OVERRIDES = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]


@pytest.fixture
def readonly_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="companion-ro-"))
    yield folder
    folder.chmod(0o700)
    shutil.rmtree(folder)


def open_as_writer(folder: Path, data: Path | None = None) -> str:
    """Make `folder` read-only and open the record in `data` (default: `folder`) as a user bound by
    that; returns the ReadOnlyLocation message."""
    data = data or folder
    folder.chmod(0o555)
    if os.geteuid() != 0:
        with pytest.raises(ReadOnlyLocation) as raised:
            Record.open(data, backup_every=None)
        return str(raised.value)
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without util-linux `setpriv` to drop the permission override")
    worker = subprocess.run(
        [*DROP_ROOT_OVERRIDES, sys.executable, "-c", WORKER_PRELUDE + OPEN_READ_ONLY, str(data)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 0, worker.stderr
    return worker.stdout


@pytest.mark.sqlite_only
def test_read_only_folder_gets_a_clear_message(readonly_dir: Path) -> None:
    message = open_as_writer(readonly_dir)
    assert str(readonly_dir / "companion.db") in message and "--data-dir" in message


@pytest.mark.sqlite_only
def test_read_only_existing_database_gets_a_clear_message(readonly_dir: Path) -> None:
    with Record.open(readonly_dir, backup_every=None) as record:
        record.caseload.add_client("Ava")
    (readonly_dir / "companion.db").chmod(0o444)
    message = open_as_writer(readonly_dir)
    assert str(readonly_dir / "companion.db") in message and "read-only" in message
    assert f"its folder {readonly_dir} is read-only" in message  # the folder (0555 here) is what blocks


def test_unwritable_parent_of_a_new_data_dir_is_a_clear_error(readonly_dir: Path) -> None:
    message = open_as_writer(readonly_dir, readonly_dir / "not-yet-created")
    assert "not-yet-created" in message and "--data-dir" in message
