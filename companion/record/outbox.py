"""The outbox of a record on a PostgreSQL server: each event durable on this computer first, then sent.

Why: the screen confirms a tap only once it is durable, and a server is reached over a network that can go
away mid-session (a cable pulled, the Wi-Fi lost, the server restarted). So on a server record every event
is first committed to a small SQLite file in the data folder (`synchronous=FULL`: fsynced before the tap is
confirmed), and a sender (`companion.record.server_sync`) copies it to the server in the order it was
logged. Exactly once: an event keeps the id it was given at the tap, the server's `events.id` is unique,
and the sender inserts only the ids the server does not have yet, in one transaction with their audit
entries; a row leaves the outbox only after that transaction committed. A crash between the two sends the
row again, and the server already has it.

Each open record has its own outbox file, locked (`flock`) while it is open: two records open on one
folder (two tabs, a command beside the app) never send each other's rows, and a file whose lock is free
was left by a run that quit or crashed with rows waiting. The next `Record.open` adopts its rows (copied
into its own outbox ahead of anything new, then the file is removed), so nothing waits for a run that
will never come back. In an encrypted data folder the file is encrypted with the folder's key.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from companion.paths import ensure_private_dir, ensure_private_file
from companion.record.cipher import SQL_OR_OS_ERRORS, DataKey, connect
from companion.record.database import SIDECAR_SUFFIXES, secure_sidecars, sync_folder
from companion.record.errors import StorageError, classify
from companion.record.event_queries import EventRow

FOLDER = "outbox"
SUFFIX = ".db"
_INSERT = "INSERT INTO waiting (event, staff_id, actor) VALUES (?, ?, ?)"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS waiting ("
    "seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL, staff_id INTEGER, actor TEXT)"
)


@dataclass(frozen=True)
class Author:
    """Who logged an event in a practice with staff: the server's audit entry names them when the event
    arrives, whoever is signed in by then."""

    staff_id: int
    actor: str


@dataclass(frozen=True)
class Waiting:
    """One event in the outbox: its place in the sending order, its row, and who logged it."""

    seq: int
    row: EventRow
    author: Author | None


def outbox_prefix(server: str) -> str:
    """The start of the outbox file names for one server record (a folder may be used with two servers;
    `server` is its URL without the password)."""
    return f"{hashlib.sha256(server.encode()).hexdigest()[:16]}-"


class Outbox:
    """This run's outbox file: append at the tap, read and remove from the sender (thread-safe)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, lock_fd: int) -> None:
        self.path = path
        self._conn = conn
        self._lock_fd = lock_fd
        self._lock = threading.Lock()
        self._count = 0
        self.adopted = 0
        """Rows a run that quit or crashed had left waiting, taken over by this one at open."""
        self.adopt_error: str | None = None
        """Why an outbox left by an earlier run could not be taken over (it stays for the next open)."""

    @classmethod
    def open(cls, data_dir: Path, server: str, key: DataKey | None = None) -> Outbox:
        """A new outbox for this run in `<data dir>/outbox/`, with the rows earlier runs left adopted."""
        folder = data_dir / FOLDER
        path = folder / f"{outbox_prefix(server)}{uuid.uuid4().hex[:12]}{SUFFIX}"
        try:
            ensure_private_dir(folder)
            ensure_private_file(path)
            lock_fd = _locked(path, wait=True)
            assert lock_fd is not None
            conn = _connect(path, key)
            sync_folder(folder)
        except SQL_OR_OS_ERRORS as exc:
            raise _problem(exc, path) from exc
        outbox = cls(path, conn, lock_fd)
        outbox.adopted = outbox._adopt(sorted(folder.glob(f"{outbox_prefix(server)}*{SUFFIX}")), key)
        outbox._count = outbox._query_count()
        return outbox

    def append(self, rows: Sequence[EventRow], author: Author | None) -> None:
        """Commit `rows` (durable when this returns), after everything appended before."""
        encoded = [
            (json.dumps(list(row)), author.staff_id if author else None, author.actor if author else None)
            for row in rows
        ]
        with self._lock:
            try:
                with self._conn:
                    self._conn.executemany(_INSERT, encoded)
            except SQL_OR_OS_ERRORS as exc:
                raise _problem(exc, self.path) from exc
            self._count += len(rows)

    def oldest(self, limit: int) -> list[Waiting]:
        """Up to `limit` rows in sending order."""
        with self._lock:
            found = self._read(
                "SELECT seq, event, staff_id, actor FROM waiting ORDER BY seq LIMIT ?", (limit,)
            )
        return [_waiting(row) for row in found]

    def rows(self) -> list[EventRow]:
        """Every waiting event's row, in logging order (the record's reads add them to the server's)."""
        with self._lock:
            return [json.loads(event) for (event,) in self._read("SELECT event FROM waiting ORDER BY seq")]

    def remove_through(self, seq: int) -> None:
        """Rows up to `seq` reached the server: they leave the outbox."""
        with self._lock:
            try:
                with self._conn:
                    removed = self._conn.execute("DELETE FROM waiting WHERE seq <= ?", (seq,)).rowcount
            except SQL_OR_OS_ERRORS as exc:
                raise _problem(exc, self.path) from exc
            self._count -= removed

    def __len__(self) -> int:
        """How many events wait for the server (kept in memory: the screen asks every second)."""
        return self._count

    def close(self) -> None:
        """Close the file; an empty one is removed, one with rows waiting stays for the next open."""
        with self._lock:
            with contextlib.suppress(*SQL_OR_OS_ERRORS):
                self._conn.close()
            if self._count == 0:
                _remove(self.path)
            os.close(self._lock_fd)  # last: SQLite's own locks on the file are gone by now

    def _adopt(self, candidates: Sequence[Path], key: DataKey | None) -> int:
        """Copy the rows of outbox files no open record holds (locked: in use) into this one, oldest file
        first, and remove each once its rows are committed here. One that cannot be read stays where it
        is, and `adopt_error` says why."""
        adopted = 0
        for path in candidates:
            if path == self.path:
                continue
            lock_fd = _locked(path, wait=False)
            if lock_fd is None:
                continue  # another run's, open now: it sends its own rows
            try:
                other = _connect(path, key)
                try:
                    rows = other.execute("SELECT event, staff_id, actor FROM waiting ORDER BY seq").fetchall()
                finally:
                    other.close()
                with self._conn:
                    self._conn.executemany(_INSERT, rows)
                _remove(path)
                adopted += len(rows)
            except SQL_OR_OS_ERRORS as exc:  # a damaged file must not stop today's session
                self.adopt_error = str(_problem(exc, path))
            finally:
                os.close(lock_fd)
        return adopted

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except SQL_OR_OS_ERRORS as exc:
            raise _problem(exc, self.path) from exc

    def _query_count(self) -> int:
        with self._lock:
            return int(self._read("SELECT count(*) FROM waiting")[0][0])


def _connect(path: Path, key: DataKey | None) -> sqlite3.Connection:
    conn = connect(path, key, isolation_level="DEFERRED", check_same_thread=False, timeout=5.0)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(_SCHEMA)
        conn.commit()
    except BaseException:
        conn.close()
        raise
    secure_sidecars(path)
    return conn


def _locked(path: Path, wait: bool) -> int | None:
    """An open descriptor holding `path`'s exclusive flock (kept until the outbox closes: the lock is what
    tells a live outbox from an abandoned one, and the kernel releases it when the process dies, even by
    kill -9), or None when another holds it and `wait` is False."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        if wait:
            raise
        return None  # adopted and removed by another run meanwhile
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        if not wait and os.fstat(fd).st_nlink == 0:  # removed by its adopter while we waited to look
            os.close(fd)
            return None
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _remove(path: Path) -> None:
    for leftover in (path, *(path.with_name(path.name + suffix) for suffix in SIDECAR_SUFFIXES)):
        with contextlib.suppress(OSError):
            leftover.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        sync_folder(path.parent)


def _waiting(row: sqlite3.Row) -> Waiting:
    seq, event, staff_id, actor = row
    return Waiting(int(seq), json.loads(event), Author(staff_id, actor) if staff_id is not None else None)


def _problem(exc: BaseException, path: Path) -> StorageError:
    """A local failure, named as the outbox's: the taps are still kept (in memory and a rescue file)."""
    problem = classify(exc, path)
    return type(problem)(path, f"The outbox {path} could not be written: {problem}")
