"""Sending a server record's outbox (`companion.record.outbox`) to the server: in order, exactly once,
whenever the server can be reached.

One thread per open record, with a connection of its own: a tap is confirmed once it is in the outbox, and
never waits behind a network call, so a slow or vanished server delays only the copy on the server. The
tap's thread gives the sender a short moment (`settle`) so that, with the server there, the event is on
the server when the tap returns and a read right after it (a summary, another tab) finds it; once a send
failed or was slow, taps stop waiting until the server answers again.

While the server is away the sender tries again every few seconds (doubling up to `RETRY_MAX_S`), and
`problem` says why it cannot send; the app shows it with the number of entries waiting.
"""

from __future__ import annotations

import threading
from pathlib import Path

from companion.record.audit import append_change
from companion.record.connection import Connection
from companion.record.database import Database
from companion.record.errors import DatabaseLocked, StorageError
from companion.record.event_queries import audited_change, insert_events
from companion.record.outbox import Outbox, Waiting
from companion.record.postgres import redacted

SEND_BATCH = 500
"""Events per server transaction: a long outage's backlog goes in a few round trips, none of them huge."""
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 5.0
"""How long, at most, a server that is back waits for the next attempt."""
SETTLE_S = 0.5
"""How long a tap waits for its event to reach a server that answered last time."""


class ServerSync:
    """The sender of one outbox: a thread woken at each append, `send_now` for an explicit flush."""

    def __init__(self, url: str, path: Path, busy_timeout: float, outbox: Outbox) -> None:
        self._url = url
        self._path = path
        self._busy_timeout = busy_timeout
        self._outbox = outbox
        self._db: Database | None = None
        self._sending = threading.Lock()
        """Held for a whole send: the thread and `send_now` never send the same rows side by side."""
        self._changed = threading.Condition()
        self._woken = True  # rows an earlier run left (adopted at open) go at once
        self._closing = False
        self._slow = False
        self.problem: str | None = None
        """Why the last send failed (None: the server took everything sent so far)."""
        self._thread = threading.Thread(target=self._run, name="companion-sync", daemon=True)
        self._thread.start()

    @property
    def waiting(self) -> int:
        """Events durable here and not on the server yet."""
        return len(self._outbox)

    def wake(self) -> None:
        """New rows are in the outbox: send them now."""
        with self._changed:
            self._woken = True
            self._changed.notify_all()

    def settle(self) -> None:
        """Give the sender up to `SETTLE_S` to empty the outbox, unless the server failed or was slow the
        last time (then the tap does not wait: its event is safe in the outbox and goes when it can)."""
        with self._changed:
            if self.problem is not None or self._slow:
                return
            sent = self._changed.wait_for(
                lambda: not self.waiting or self.problem is not None or self._closing, SETTLE_S
            )
            self._slow = not sent

    def send_now(self, wait: float | None = None) -> None:
        """Send everything waiting, on the caller's thread (ending a session, closing the record); raises
        the StorageError that stops it (nothing is lost: the rows stay in the outbox). `wait`: how long to
        wait for a send under way on the thread (it may hang on a dead network), None for as long as it
        takes."""
        try:
            self._send_all(wait)
        except StorageError as exc:
            self._said(self._why(exc))
            raise
        self._said(None)

    def close(self, timeout: float) -> None:
        """Stop the thread (a send under way may finish within `timeout`), then close the connection."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            return  # hung in a call on a dead network: its connection goes with the process
        if self._db is not None:
            self._db.close()
            self._db = None

    def _run(self) -> None:
        delay: float | None = None
        while True:
            with self._changed:
                if not self._woken and not self._closing:
                    self._changed.wait(delay)
                if self._closing:
                    return
                self._woken = False
            try:
                self._send_all()
            except StorageError as exc:
                self._said(self._why(exc))
                delay = min(RETRY_MAX_S, 2 * (delay or RETRY_FIRST_S / 2))
            else:
                self._said(None)
                delay = None

    def _why(self, problem: StorageError) -> str:
        """Why the entries wait, in words for the bar above the log. A lock not had in time is usually
        other therapists' entries going in (the server takes one writer at a time), not a stuck program:
        "close the other program" would be the wrong advice to a therapist mid-session."""
        if isinstance(problem, DatabaseLocked):
            return (
                f"the practice's record at {redacted(self._url)} is busy with other therapists' entries or "
                "locked by another program; they go as soon as it is free"
            )
        return str(problem)

    def _said(self, problem: str | None) -> None:
        with self._changed:
            self.problem = problem
            if problem is None:
                self._slow = False
            self._changed.notify_all()

    def _send_all(self, wait: float | None = None) -> None:
        if not self._sending.acquire(timeout=-1 if wait is None else wait):
            raise StorageError(
                self._path,
                f"A send to the practice's record at {redacted(self._url)} is still waiting for the server: "
                "the entries stay on this computer and are sent when it answers, or the next time "
                "Companion opens this record here.",
            )
        try:
            while batch := self._outbox.oldest(SEND_BATCH):
                self._send(batch)
                self._outbox.remove_through(batch[-1].seq)
                with self._changed:
                    self._changed.notify_all()
        finally:
            self._sending.release()

    def _send(self, batch: list[Waiting]) -> None:
        """One transaction: the events the server does not have yet, with their audit entries."""
        if self._db is None:
            self._db = Database.attach_url(self._url, self._path, self._busy_timeout)
        with self._db.transaction() as conn:
            stored = _stored_ids(conn, batch)
            fresh = [waiting for waiting in batch if waiting.row[0] not in stored]
            insert_events(conn, [waiting.row for waiting in fresh])
            for waiting in fresh:
                if waiting.author is not None:
                    action, clients, kind = audited_change(waiting.row)
                    author = waiting.author
                    append_change(
                        conn, author.staff_id, author.actor, action, "events", waiting.row[0], clients, kind
                    )


def _stored_ids(conn: Connection, batch: list[Waiting]) -> set[str]:
    ids = [waiting.row[0] for waiting in batch]
    marks = ", ".join("?" * len(ids))
    return {row[0] for row in conn.execute(f"SELECT id FROM events WHERE id IN ({marks})", ids).fetchall()}
