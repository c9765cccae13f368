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
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

from companion.record.caseload import UnknownRecord, load_hierarchy
from companion.record.clock import iso, parse, utc_now
from companion.record.database import Database
from companion.record.errors import StorageError
from companion.record.events import (
    Intervention,
    Payload,
    Tombstone,
    Trial,
    payload_from_json,
    payload_to_json,
)
from companion.record.model import Event, EventDraft, Session
from companion.record.rescue import (
    SUFFIX,
    read_rescue,
    rescue_places,
    rescue_prefix,
    rescued_files,
    write_rescue,
)
from companion.record.sessions import load_session

EVENT_COLUMNS = "id, session_id, client_id, objective_id, plan_id, kind, wall_time, offset_s, payload"
NOT_UNDONE = "kind != 'tombstone' AND id NOT IN (SELECT undoes FROM events WHERE undoes IS NOT NULL)"
INSERT_EVENT = f"INSERT OR IGNORE INTO events ({EVENT_COLUMNS}, undoes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def event_from_row(row: sqlite3.Row) -> Event:
    """An Event from a row selected with EVENT_COLUMNS."""
    return Event(
        id=row["id"],
        session_id=row["session_id"],
        client_id=row["client_id"],
        objective_id=row["objective_id"],
        plan_id=row["plan_id"],
        wall_time=row["wall_time"],
        offset_s=row["offset_s"],
        payload=payload_from_json(row["kind"], json.loads(row["payload"])),
    )


def _row(event: Event) -> tuple[object, ...]:
    undoes = event.payload.target_event_id if isinstance(event.payload, Tombstone) else None
    return (
        event.id,
        event.session_id,
        event.client_id,
        event.objective_id,
        event.plan_id,
        event.kind,
        event.wall_time,
        event.offset_s,
        json.dumps(payload_to_json(event.payload), separators=(",", ":")),
        undoes,
    )


class EventLog:
    """Event operations of the Record facade."""

    _db: Database
    data_dir: Path
    _pending: list[Event]
    # Where the pending queue is kept on disk now (None when nothing is pending), and why the last attempt
    # to keep it there failed (None when it worked): the app shows this beside the pending entries.
    rescue_file: Path | None
    rescue_error: str | None
    _current_plan: dict[int, str | None]
    _session_cache: dict[int, Session]
    _hierarchies: dict[tuple[int | None, int | None], tuple[str, ...]]
    _objective_owners: dict[int, int]

    # Monotonic clock reading at the start of each session started by this process.
    _anchors: dict[int, float]

    # -- writing -----------------------------------------------------------------------------------------
    def log(self, session_id: int, draft: EventDraft) -> Event:
        """Store one event; returns once it is durable, else raises a StorageError and keeps it pending."""
        return self.log_many(session_id, [draft])[0]

    def log_many(self, session_id: int, drafts: Iterable[EventDraft]) -> list[Event]:
        """Store several events in one transaction (imports, history): all durable or all queued."""
        with self._db.lock:
            events = [self._stamp(session_id, draft) for draft in drafts]
            self._pending.extend(events)
            self._write_pending()
            return events

    def flush(self) -> int:
        """Retry the pending events; returns how many were written (raises StorageError if still failing)."""
        with self._db.lock:
            count = len(self._pending)
            if count:
                self._write_pending()
            return count

    def pending(self) -> list[Event]:
        """Events acknowledged to the screen as taps but not yet durable, oldest first."""
        with self._db.lock:
            return list(self._pending)

    def undo(self, event_id: str) -> Event:
        """Cancel an event by logging a tombstone for it (nothing is deleted); returns the tombstone."""
        target = self.event(event_id)
        return self.log(
            target.session_id,
            EventDraft(
                Tombstone(event_id),
                client_id=target.client_id,
                objective_id=target.objective_id,
                plan_id=target.plan_id,
            ),
        )

    def _write_pending(self) -> None:
        try:
            with self._db.transaction() as conn:
                conn.executemany(INSERT_EVENT, [_row(event) for event in self._pending])
        except StorageError:
            self._keep_in_rescue_file()
            raise
        self._pending.clear()
        self._set_rescue_file(None)

    # -- rescue files ------------------------------------------------------------------------------------
    def restore_rescued(self) -> int:
        """Add the events of rescue files an earlier run left for this database (it quit or crashed with
        entries pending); returns how many were not stored yet. Each file is removed once its events are
        durable; on a storage failure the files stay for the next attempt."""
        added = 0
        for path in rescued_files(rescue_places(self.data_dir), rescue_prefix(self._db.path)):
            if path == self.rescue_file:
                continue
            rows = read_rescue(path)
            with self._db.transaction() as conn:
                before = conn.total_changes
                conn.executemany(INSERT_EVENT, rows)
                added += conn.total_changes - before
            path.unlink()
        return added

    def _keep_in_rescue_file(self) -> None:
        name = f"{rescue_prefix(self._db.path)}{os.getpid()}{SUFFIX}"
        try:
            kept = write_rescue(rescue_places(self.data_dir), name, [_row(e) for e in self._pending])
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
        """One event by id, stored or pending."""
        for event in self.pending():
            if event.id == event_id:
                return event
        row = self._db.query_one(f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ?", (event_id,))
        if row is None:
            raise UnknownRecord(f"no event with id {event_id}")
        return event_from_row(row)

    def session_events(
        self, session_id: int, *, include_undone: bool = False, include_pending: bool = True
    ) -> list[Event]:
        """A session's events in logging order; undone events and tombstones are left out by default."""
        stored = self._query_events("session_id = ?", (session_id,), include_undone=True)
        queued = [e for e in self.pending() if e.session_id == session_id] if include_pending else []
        events = stored + queued
        if include_undone:
            return events
        undone = {e.payload.target_event_id for e in events if isinstance(e.payload, Tombstone)}
        return [e for e in events if e.id not in undone and not isinstance(e.payload, Tombstone)]

    def latest_event(self, client_id: int, kind: str) -> Event | None:
        """The client's last stored event of `kind` in any session (not undone): e.g. the cadence a RAS
        session starts from."""
        events = self._query_events(
            f"seq = (SELECT MAX(seq) FROM events WHERE client_id = ? AND kind = ? AND {NOT_UNDONE})",
            (client_id, kind),
        )
        return events[-1] if events else None

    def latest_by_objective(self, objective_ids: Sequence[int], kinds: Sequence[str]) -> list[Event]:
        """The last stored event of each of `kinds` for each objective (not undone), in logging order: the
        labels and units an objective was last logged with."""
        if not objective_ids or not kinds:
            return []
        ids, named = ", ".join("?" * len(objective_ids)), ", ".join("?" * len(kinds))
        return self._query_events(
            f"seq IN (SELECT MAX(seq) FROM events WHERE kind IN ({named}) AND objective_id IN ({ids}) "
            f"AND {NOT_UNDONE} GROUP BY objective_id, kind)",
            [*kinds, *objective_ids],
        )

    def _query_events(
        self, where: str, params: Sequence[object], *, include_undone: bool = False
    ) -> list[Event]:
        """Stored events matching a SQL condition on the events table, in logging order (the SQL stays in
        the record: callers ask through the named queries above)."""
        condition = where if include_undone else f"({where}) AND {NOT_UNDONE}"
        rows = self._db.query(f"SELECT {EVENT_COLUMNS} FROM events WHERE {condition} ORDER BY seq", params)
        return [event_from_row(row) for row in rows]

    # -- stamping and validation -------------------------------------------------------------------------
    def _stamp(self, session_id: int, draft: EventDraft) -> Event:
        session = self._session_cache.get(session_id)
        if session is None:
            session = self._session_cache[session_id] = load_session(self._db, session_id)
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
            owner = self._objective_owner(draft.objective_id)
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

    def _objective_owner(self, objective_id: int) -> int:
        owner = self._objective_owners.get(objective_id)
        if owner is None:
            row = self._db.query_one(
                "SELECT g.client_id FROM objectives o JOIN goals g ON g.id = o.goal_id WHERE o.id = ?",
                (objective_id,),
            )
            if row is None:
                raise UnknownRecord(f"no objective with id {objective_id}")
            owner = self._objective_owners[objective_id] = int(row[0])
        return owner

    def _check_prompt_level(self, trial: Trial, client_id: int | None, objective_id: int | None) -> None:
        """A trial's level must be in the hierarchy it is scored against: its objective's, else its client's
        (the pad offers no other, but an import or a second device might)."""
        key = (client_id, objective_id)
        levels = self._hierarchies.get(key)
        if levels is None:
            own = self._db.query_one("SELECT prompt_levels FROM objectives WHERE id = ?", (objective_id,))
            levels = tuple(json.loads(own[0])) if own is not None else ()
            levels = self._hierarchies[key] = levels or load_hierarchy(self._db, client_id)
        if trial.prompt_level not in levels:
            raise ValueError(f"prompt level {trial.prompt_level!r} is not one of {', '.join(levels)}")

    def _anchor(self, session: Session) -> float:
        """The monotonic clock at the session's start; derived from wall time if it started elsewhere."""
        anchor = self._anchors.get(session.id)
        if anchor is None:
            elapsed = (utc_now() - parse(session.started_at)).total_seconds()
            anchor = self._anchors[session.id] = time.monotonic() - elapsed
        return anchor

    def _check_undoable(self, target_id: str, session_id: int) -> None:
        target = self.event(target_id)
        if target.session_id != session_id:
            raise ValueError(f"event {target_id} belongs to session {target.session_id}, not {session_id}")
        if isinstance(target.payload, Tombstone):
            raise ValueError("an undo cannot itself be undone; log the event again instead")
        already = any(
            isinstance(e.payload, Tombstone) and e.payload.target_event_id == target_id
            for e in self.pending()
        ) or self._db.query_one("SELECT 1 FROM events WHERE undoes = ?", (target_id,))
        if already:
            raise ValueError(f"event {target_id} is already undone")

    def _plan_for(self, session_id: int, draft: EventDraft) -> str | None:
        payload: Payload = draft.payload
        if isinstance(payload, Intervention):
            self._current_plan[session_id] = payload.plan_id
            return payload.plan_id
        if draft.plan_id is not None:
            return draft.plan_id
        if session_id not in self._current_plan:
            row = self._db.query_one(
                "SELECT plan_id FROM events WHERE session_id = ? AND kind = 'intervention' ORDER BY seq DESC",
                (session_id,),
            )
            queued = [
                e.plan_id for e in self._pending if e.session_id == session_id and e.kind == "intervention"
            ]
            self._current_plan[session_id] = queued[-1] if queued else (row[0] if row else None)
        return self._current_plan[session_id]
