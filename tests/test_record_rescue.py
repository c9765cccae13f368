"""Rescue files: entries the database refused survive quitting and kill -9, and come back exactly once.

The database refuses them here by being locked. A record on a server is not made to refuse taps that way:
a locked or absent server leaves them waiting in the outbox, durable (`tests/test_server_sync.py`), so
these tests run on SQLite only."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.raw_record import database_env, raw_connection

from companion.record import Count, DatabaseLocked, EventDraft, Note, Record
from companion.record.database import Connection
from companion.record.rescue import rescue_places, rescue_prefix, rescued_files


@pytest.fixture
def blocker(data: Path) -> Iterator[Connection]:
    """Another program holding the write lock on the database until the test releases it."""
    Record.open(data, backup_every=None).close()
    with raw_connection(data) as conn:
        yield conn
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def stored(data: Path, session_id: int) -> list[str]:
    with Record.open(data, backup_every=None) as record:
        return [e.id for e in record.events.session_events(session_id, include_pending=False)]


def rescued_ids(path: Path) -> list[str]:
    return [json.loads(line)[0] for line in path.read_text().splitlines()]


@pytest.mark.sqlite_only
def test_pending_entries_are_kept_in_a_private_rescue_file_until_saved(
    data: Path, blocker: Connection
) -> None:
    record = Record.open(data, busy_timeout=0.1, backup_every=None)
    session = record.sessions.start_session([record.caseload.add_client("Ava").id])
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(DatabaseLocked):
        record.events.log(session.id, EventDraft(Count("initiation")))
    with pytest.raises(DatabaseLocked):
        record.events.log(session.id, EventDraft(Note("smiled at the drum")))
    rescue = record.events.rescue_file
    assert rescue is not None and rescue.parent == data / "rescue"
    assert rescue.stat().st_mode & 0o777 == 0o600 and rescue.parent.stat().st_mode & 0o777 == 0o700
    assert rescued_ids(rescue) == [e.id for e in record.events.pending()]
    blocker.execute("COMMIT")
    assert record.events.flush() == 2
    assert record.events.rescue_file is None and not rescue.exists()
    record.close()


@pytest.mark.sqlite_only
def test_quitting_with_entries_pending_loses_none_of_them(data: Path, blocker: Connection) -> None:
    record = Record.open(data, busy_timeout=0.1, backup_every=None)
    session = record.sessions.start_session([record.caseload.add_client("Ava").id])
    saved = record.events.log(session.id, EventDraft(Count("initiation")))
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(DatabaseLocked):
        record.events.log(session.id, EventDraft(Count("initiation")))
    held = [e.id for e in record.events.pending()]
    record.database.close()  # the therapist quits anyway; memory is gone
    blocker.execute("COMMIT")
    with Record.open(data, backup_every=None) as reopened:
        assert reopened.events.restored == 1 and reopened.events.restore_error is None
    assert stored(data, session.id) == [saved.id, *held]
    assert rescued_files(rescue_places(data), rescue_prefix(data / "companion.db")) == []


KILLED_WHILE_LOCKED = """
import sys
from pathlib import Path
from companion.record import Count, EventDraft, Record, StorageError
record = Record.open(Path(sys.argv[1]), busy_timeout=0.05, backup_every=None)
session = record.sessions.start_session([record.caseload.add_client("Ava").id])
print(session.id, flush=True)
sys.stdin.readline()  # the parent now holds the lock
for label in ("step", "step", "reach"):
    try:
        record.events.log(session.id, EventDraft(Count(label)))
    except StorageError:
        pass
print(*(e.id for e in record.events.pending()), flush=True)
sys.stdin.readline()  # killed here
"""


@pytest.mark.sqlite_only
def test_kill_minus_nine_with_entries_pending_loses_none_of_them(
    data: Path, blocker: Connection, cache_home: Path
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WHILE_LOCKED, str(data)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={"XDG_CACHE_HOME": str(cache_home), "PATH": "", **database_env()},
    )
    assert child.stdin is not None and child.stdout is not None
    session_id = int(child.stdout.readline())
    blocker.execute("BEGIN IMMEDIATE")
    child.stdin.write("\n")
    child.stdin.flush()
    pending = child.stdout.readline().split()
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    blocker.execute("COMMIT")
    assert len(pending) == 3
    assert stored(data, session_id) == pending


@pytest.mark.sqlite_only
def test_a_folder_that_refuses_the_file_passes_it_to_the_cache_folder(
    data: Path, blocker: Connection, cache_home: Path
) -> None:
    record = Record.open(data, busy_timeout=0.1, backup_every=None)
    session = record.sessions.start_session([record.caseload.add_client("Ava").id])
    (data / "rescue").write_text("a file where the rescue folder should be\n")
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(DatabaseLocked):
        record.events.log(session.id, EventDraft(Count("initiation")))
    assert (
        record.events.rescue_file is not None
        and record.events.rescue_file.parent == cache_home / "companion" / "rescue"
    )
    assert record.events.rescue_error is None
    held = [e.id for e in record.events.pending()]
    record.database.close()
    blocker.execute("COMMIT")
    assert stored(data, session.id) == held


@pytest.mark.sqlite_only
def test_restoring_twice_never_duplicates(data: Path, blocker: Connection) -> None:
    record = Record.open(data, busy_timeout=0.1, backup_every=None)
    session = record.sessions.start_session([record.caseload.add_client("Ava").id])
    blocker.execute("BEGIN IMMEDIATE")
    with pytest.raises(DatabaseLocked):
        record.events.log(session.id, EventDraft(Count("initiation")))
    rescue = record.events.rescue_file
    assert rescue is not None
    copy = rescue.read_text()
    blocker.execute("COMMIT")
    record.events.flush()
    record.close()
    rescue.write_text(copy)  # as if removing it had failed after the events were saved
    with Record.open(data, backup_every=None) as reopened:
        assert reopened.events.restored == 0
    assert len(stored(data, session.id)) == 1 and not rescue.exists()


def test_a_damaged_rescue_file_is_named_and_kept(data: Path) -> None:
    Record.open(data, backup_every=None).close()
    folder = data / "rescue"
    folder.mkdir(mode=0o700)
    damaged = folder / f"{rescue_prefix(data / 'companion.db')}123.jsonl"
    damaged.write_text('["abc", 1\n')
    with Record.open(data, backup_every=None) as record:
        assert record.events.restore_error is not None and str(damaged) in record.events.restore_error
    assert damaged.exists()
