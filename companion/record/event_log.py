"""Logging quick-tap events durably, holding them in memory when the disk refuses, and undo.

The contract the session screen relies on: `log` returns only after the event's row is committed (and,
with synchronous=FULL, fsynced). If the commit fails the event is *not* lost: it stays in `pending()`
with its original timestamps, the call raises the specific StorageError, and every later `log` or
`flush` retries the whole queue first, in order. Ids are assigned at the tap (UUIDs), so a pending event
can be shown and even undone before it reaches the disk, and a retry can never insert it twice.
While anything is pending it is also kept in a rescue file (see `companion.record.rescue`), so quitting
or a crash loses none of it: the next `Record.open` adds it.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

from companion.record.access import Access
from companion.record.cache import RecordCache
from companion.record.caseload import Caseload
from companion.record.clock import iso, parse, utc_now
from companion.record.database import Database
from companion.record.errors import StorageError, UnknownRecord
from companion.record.event_queries import (
    audited_change,
    event_from_row,
    event_row,
    insert_events,
    is_undone,
    last_plan,
    latest_of_kind,
    latest_per_objective,
    stored_event,
    stored_session_events,
)
from companion.record.model import Event, EventDraft, Session
from companion.record.outbox import Author, Outbox
from companion.record.payloads import Intervention, Payload, Tombstone, Trial
from companion.record.rescue import (
    SUFFIX,
    read_rescue,
    rescue_places,
    rescue_prefix,
    rescued_files,
    write_rescue,
)
from companion.record.server_sync import ServerSync
from companion.record.session_queries import load_session

CLOSE_WAIT_S = 2.0
"""How long closing waits for a send under way (quitting must not hang on a dead network). A send cut off
by the close leaves its rows in the outbox: the next open sends them again, and the server skips any it
already took."""


class EventLog:
    """Logging, reading and undoing a session's events (`record.events`)."""

    def __init__(
        self,
        db: Database,
        cache: RecordCache,
        access: Access,
        caseload: Caseload,
        data_dir: Path,
        outbox: Outbox | None = None,
    ) -> None:
        """`outbox` (a record on a server): events are durable there first and sent by `sync`."""
        self._db = db
        self._cache = cache
        self._access = access
        self._caseload = caseload
        self._data_dir = data_dir
        self.outbox = outbox
        """Where a server record's events are durable first (None for a record in a file)."""
        self.sync = (
            ServerSync(db.url, db.path, db.busy_timeout, outbox)
            if outbox is not None and db.url is not None
            else None
        )
        """The outbox's sender (None for a record in a file): how many wait, and why they cannot go."""
        self._cleared: set[tuple[int | None, int]] = set()
        """(who, session) pairs already checked: a session once open to its therapist stays so for this
        record's life, so a tap does not ask the server again (it may be away: the tap must still go)."""
        self._pending: list[Event] = []
        self._undoing: dict[str, Event] = {}
        """The event `undo` is cancelling, as its caller gave it (checked without reading it again)."""
        self.rescue_file: Path | None = None
        """Where the pending queue is kept on disk now (None when nothing is pending)."""
        self.rescue_error: str | None = None
        """Why the last attempt to keep the queue on disk failed (None when it worked): the app shows this
        beside the pending entries."""
        self.restored = 0
        """Entries an earlier run left in rescue files and opening this record added."""
        self.restore_error: str | None = None
        """Why adding them failed (the files stay for the next open), None when it did not."""

    # -- writing -----------------------------------------------------------------------------------------
    def log(self, session_id: int, draft: EventDraft) -> Event:
        """Store one event; returns once it is durable, else raises a StorageError and keeps it pending."""
        return self.log_many(session_id, [draft])[0]

    def log_many(self, session_id: int, drafts: Iterable[EventDraft]) -> list[Event]:
        """Store several events in one transaction (imports, history): all durable or all queued."""
        with self._db.lock:
            self._check_session(session_id)
            events = [self._stamp(session_id, draft) for draft in drafts]
            self._pending.extend(events)
            self._write_pending()
        if self.sync is not None:
            self.sync.settle()
        return events

    def flush(self) -> int:
        """Retry the pending events; returns how many were written (raises StorageError if still failing)."""
        with self._db.lock:
            count = len(self._pending)
            if count:
                self._write_pending()
            return count

    def send_waiting(self) -> None:
        """On a server record, send what waits in the outbox now (before a session ends: what is computed
        then must see every event); raises the StorageError that stops it. Nothing to do for a file."""
        if self.sync is not None:
            self.sync.send_now()

    def pending(self) -> list[Event]:
        """Events acknowledged to the screen as taps but not yet durable, oldest first."""
        with self._db.lock:
            return list(self._pending)

    def undo(self, target: Event | str) -> Event:
        """Cancel an event by logging a tombstone for it (nothing is deleted); returns the tombstone.

        Given the event itself (the live session has it), nothing is read to find it: an undo then goes
        on while a server record's server is away, as a tap does."""
        with self._db.lock:
            known = target if isinstance(target, Event) else self.event(target)
            self._undoing[known.id] = known
            try:
                return self.log(
                    known.session_id,
                    EventDraft(
                        Tombstone(known.id),
                        client_id=known.client_id,
                        objective_id=known.objective_id,
                        plan_id=known.plan_id,
                    ),
                )
            finally:
                del self._undoing[known.id]

    def prepare(self, session_id: int) -> None:
        """Check and read now what logging into the session needs (its clients' access, objectives and
        prompt hierarchies, the plan in force): a live session calls this as it starts or resumes, while
        the server is there, so its taps go on if the server goes away before the first one."""
        with self._db.lock:
            self._check_session(session_id)

    def waiting(self) -> list[Event]:
        """Events durable in the outbox and not on the server yet (none for a record in a file)."""
        return [event_from_row(row) for row in self.outbox.rows()] if self.outbox is not None else []

    def _write_pending(self) -> None:
        """The pending events into the record's file, or a server record's outbox, in one transaction."""
        rows = [event_row(event) for event in self._pending]
        try:
            if self.outbox is not None:
                who = self._access.identity
                self.outbox.append(rows, Author(who.id, who.signature) if who is not None else None)
            else:
                with self._db.transaction() as conn:
                    insert_events(conn, rows)
                    for row in rows:
                        action, clients, kind = audited_change(row)
                        self._access.changed(conn, action, "events", row[0], clients, kind)
        except StorageError:
            self._keep_in_rescue_file()
            raise
        self._pending.clear()
        self._set_rescue_file(None)
        if self.sync is not None:
            self.sync.wake()

    def _check_session(self, session_id: int) -> None:
        """Whether the signed-in person may log into the session, asked once per session; the first time,
        what stamping its taps reads is read too, so a server that goes away later does not stop them."""
        key = (self._access.identity.id if self._access.identity is not None else None, session_id)
        if key not in self._cleared:
            clients = self._session(session_id).client_ids
            self._access.check(clients, "sessions", session_id)
            self._caseload.warm(clients)
            self._current_plan(session_id)
            self._cleared.add(key)

    def close(self) -> None:
        """On a server record: send what the server takes now, stop the sender, close the outbox (rows the
        server did not take stay in it, and the next open of the record adopts and sends them)."""
        if self.sync is not None:
            if self.sync.problem is None:  # a server known to be away is not waited for again
                with contextlib.suppress(StorageError):
                    self.sync.send_now(wait=CLOSE_WAIT_S)
            self.sync.close(CLOSE_WAIT_S)
        if self.outbox is not None:
            self.outbox.close()

    # -- rescue files ------------------------------------------------------------------------------------
    def restore_rescued(self) -> int:
        """Add the events of rescue files an earlier run left for this database (it quit or crashed with
        entries pending); returns how many were not stored yet. Each file is removed once its events are
        durable; on a storage failure the files stay for the next attempt."""
        added = 0
        for path in rescued_files(rescue_places(self._data_dir), rescue_prefix(self._db.path)):
            if path == self.rescue_file:
                continue
            rows = read_rescue(path, self._db.key)
            with self._db.transaction() as conn:
                added += insert_events(conn, rows)
            path.unlink()
        return added

    def _keep_in_rescue_file(self) -> None:
        name = f"{rescue_prefix(self._db.path)}{os.getpid()}{SUFFIX}"
        try:
            rows = [event_row(e) for e in self._pending]
            kept = write_rescue(rescue_places(self._data_dir), name, rows, self._db.key)
        except OSError as exc:  # still in memory and retried; the app shows why it is not on disk too
            self.rescue_error = str(exc)
            return
        self._set_rescue_file(kept)
        self.rescue_error = None

    def _set_rescue_file(self, path: Path | None) -> None:
        """Remember where the queue is kept; a file it no longer is in (saved, or moved) is removed."""
        if self.rescue_file is not None and self.rescue_file != path:
            # If it cannot go, the next open adds its events again (INSERT OR IGNORE) and removes it.
            with contextlib.suppress(OSError):
                self.rescue_file.unlink(missing_ok=True)
        self.rescue_file = path

    # -- reading -----------------------------------------------------------------------------------------
    def event(self, event_id: str) -> Event:
        """One event by id, stored, waiting for the server or pending."""
        for event in self._unstored():
            if event.id == event_id:
                return event
        found = stored_event(self._db, event_id)
        if found is None:
            raise UnknownRecord(f"no event with id {event_id}")
        self._access.read("events", event_id, self._session(found.session_id).client_ids)
        return found

    def session_events(
        self, session_id: int, *, include_undone: bool = False, include_pending: bool = True
    ) -> list[Event]:
        """A session's events in logging order; undone events and tombstones are left out by default."""
        self._access.read("events", session_id, self._session(session_id).client_ids)
        waiting = self.waiting()  # first: an event sent meanwhile is then in both, never in neither
        stored = stored_session_events(self._db, session_id)
        ids = {e.id for e in stored}
        waiting = [e for e in waiting if e.session_id == session_id and e.id not in ids]
        queued = [e for e in self.pending() if e.session_id == session_id] if include_pending else []
        events = stored + waiting + queued
        if include_undone:
            return events
        undone = {e.payload.target_event_id for e in events if isinstance(e.payload, Tombstone)}
        return [e for e in events if e.id not in undone and not isinstance(e.payload, Tombstone)]

    def latest_event(self, client_id: int, kind: str) -> Event | None:
        """The client's last stored event of `kind` in any session (not undone): e.g. the cadence a RAS
        session starts from."""
        self._access.read("events", kind, (client_id,))
        return latest_of_kind(self._db, client_id, kind)

    def latest_by_objective(self, objective_ids: Sequence[int], kinds: Sequence[str]) -> list[Event]:
        """The last stored event of each of `kinds` for each objective (not undone), in logging order: the
        labels and units an objective was last logged with."""
        owners = {self._caseload.objective_owner(objective_id) for objective_id in objective_ids}
        for owner in owners:
            self._access.read("events", "latest", (owner,))
        return latest_per_objective(self._db, objective_ids, kinds)

    def _unstored(self) -> list[Event]:
        """Events not on the server or in the file yet, oldest first: waiting in the outbox, then pending
        (an undo of one of them is checked against these, never against a server that may be away)."""
        return self.waiting() + self.pending()

    # -- stamping and validation -------------------------------------------------------------------------
    def _session(self, session_id: int) -> Session:
        """The session as cached (every tap is stamped against it), read once."""
        session = self._cache.sessions.get(session_id)
        if session is None:
            session = self._cache.sessions[session_id] = load_session(self._db, session_id)
        return session

    def _stamp(self, session_id: int, draft: EventDraft) -> Event:
        session = self._session(session_id)
        payload = draft.payload
        client_id = self._client_for(session, draft)
        if isinstance(payload, Trial):
            self._check_prompt_level(payload, client_id, draft.objective_id)
        if isinstance(payload, Tombstone):
            self._check_undoable(payload.target_event_id, session_id)
        plan_id = self._plan_for(session_id, draft)
        if draft.wall_time is not None:
            wall = draft.wall_time
            offset = (
                draft.offset_s
                if draft.offset_s is not None
                else (wall - parse(session.started_at)).total_seconds()
            )
        else:
            wall = utc_now()
            offset = (
                draft.offset_s if draft.offset_s is not None else time.monotonic() - self._anchor(session)
            )
        return Event(
            id=uuid.uuid4().hex,
            session_id=session_id,
            client_id=client_id,
            objective_id=draft.objective_id,
            plan_id=plan_id,
            wall_time=iso(wall),
            offset_s=round(offset, 6),
            payload=payload,
        )

    def _client_for(self, session: Session, draft: EventDraft) -> int | None:
        client_id = draft.client_id
        if draft.objective_id is not None:
            owner = self._caseload.objective_owner(draft.objective_id)
            if client_id is not None and client_id != owner:
                raise ValueError(f"objective {draft.objective_id} belongs to client {owner}, not {client_id}")
            client_id = owner
        if client_id is None and len(session.client_ids) == 1:
            client_id = session.client_ids[0]
        if client_id is None and isinstance(draft.payload, Trial):
            raise ValueError("a trial in a group session must name the client")
        if client_id is not None and client_id not in session.client_ids:
            raise ValueError(f"client {client_id} is not in session {session.id}")
        return client_id

    def _check_prompt_level(self, trial: Trial, client_id: int | None, objective_id: int | None) -> None:
        """A trial's level must be in the hierarchy it is scored against: its objective's, else its client's
        (the pad offers no other, but an import or a second device might)."""
        levels = self._caseload.trial_levels(client_id, objective_id)
        if trial.prompt_level not in levels:
            raise ValueError(f"prompt level {trial.prompt_level!r} is not one of {', '.join(levels)}")

    def _anchor(self, session: Session) -> float:
        """The monotonic clock at the session's start; derived from wall time if it started elsewhere."""
        anchor = self._cache.anchors.get(session.id)
        if anchor is None:
            elapsed = (utc_now() - parse(session.started_at)).total_seconds()
            anchor = self._cache.anchors[session.id] = time.monotonic() - elapsed
        return anchor

    def _check_undoable(self, target_id: str, session_id: int) -> None:
        target = self._undoing.get(target_id) or self.event(target_id)
        if target.session_id != session_id:
            raise ValueError(f"event {target_id} belongs to session {target.session_id}, not {session_id}")
        if isinstance(target.payload, Tombstone):
            raise ValueError("an undo cannot itself be undone; log the event again instead")
        unstored = self._unstored()
        already = any(
            isinstance(e.payload, Tombstone) and e.payload.target_event_id == target_id for e in unstored
        ) or (all(e.id != target_id for e in unstored) and self._undone_on_server(target_id))
        if already:
            raise ValueError(f"event {target_id} is already undone")

    def _undone_on_server(self, target_id: str) -> bool:
        """Whether the stored record has an undo of the event. On a server record whose server is away
        this cannot be asked: the undo goes ahead (a second undo of one event changes no figure: an event
        is undone or not), rather than being refused while the therapist taps on."""
        try:
            return is_undone(self._db, target_id)
        except StorageError:
            if self.outbox is None:
                raise
            return False

    def _plan_for(self, session_id: int, draft: EventDraft) -> str | None:
        payload: Payload = draft.payload
        if isinstance(payload, Intervention):
            self._cache.current_plan[session_id] = payload.plan_id
            return payload.plan_id
        if draft.plan_id is not None:
            return draft.plan_id
        return self._current_plan(session_id)

    def _current_plan(self, session_id: int) -> str | None:
        if session_id not in self._cache.current_plan:
            queued = [
                e.plan_id for e in self._unstored() if e.session_id == session_id and e.kind == "intervention"
            ]
            self._cache.current_plan[session_id] = queued[-1] if queued else last_plan(self._db, session_id)
        return self._cache.current_plan[session_id]
