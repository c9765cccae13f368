"""Sessions (one client or a group) and their SOAP notes."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from companion.record.attendance import mark_attended
from companion.record.billing import BilledLine, BillingChange, billed_lines, parse_codes
from companion.record.caseload import UnknownRecord, load_client, load_therapist
from companion.record.clock import iso, utc_now
from companion.record.database import Database
from companion.record.model import HOME_PRACTICE, MODALITIES, Addendum, Session, SessionNote

SESSION_SELECT = (
    "SELECT s.*, (SELECT json_group_array(client_id) FROM "
    "(SELECT client_id FROM session_clients sc WHERE sc.session_id = s.id ORDER BY client_id)) AS client_ids "
    "FROM sessions s"
)


def parse_billing_codes(text: str) -> tuple[str, ...]:
    """The codes a therapist typed ("97530-GP:30, 97112-gp:15 G0176"), as stored: upper-cased, in order,
    each once; ValueError naming the first that is not a code and what one looks like (see `billing`)."""
    return tuple(code.text for code in parse_codes(text))


def _session(row: sqlite3.Row) -> Session:
    return Session(
        id=row["id"],
        client_ids=tuple(json.loads(row["client_ids"])),
        date=date.fromisoformat(row["date"]),
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        setting=row["setting"],
        plan_ids=tuple(json.loads(row["plan_ids"])),
        cpt_codes=tuple(json.loads(row["cpt_codes"])),
        second_observer_of=row["second_observer_of"],
        present=row["present"],
        modality=row["modality"],
    )


def _note(row: sqlite3.Row) -> SessionNote:
    return SessionNote(
        session_id=row["session_id"],
        client_id=row["client_id"],
        subjective=row["subjective"],
        objective=row["objective"],
        observations=row["observations"],
        assessment=row["assessment"],
        plan=row["plan"],
        home_practice=row["home_practice"],
        home_report=row["home_report"],
        updated_at=row["updated_at"],
        finalised=bool(row["finalised"]),
        signed_by=row["signed_by"],
        signed_at=row["signed_at"],
    )


class FinalisedNote(ValueError):
    """A change to a note that was finalised (signed): it is never rewritten; an addendum is the way."""


def _merge(first: Sequence[str], second: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*first, *second]))


def load_session(db: Database, session_id: int) -> Session:
    row = db.query_one(SESSION_SELECT + " WHERE s.id = ?", (session_id,))
    if row is None:
        raise UnknownRecord(f"no session with id {session_id}")
    return _session(row)


class Sessions:
    """Session and note operations of the Record facade."""

    _db: Database
    # Monotonic clock reading at each session's start, for the events' monotonic offsets.
    _anchors: dict[int, float]
    _session_cache: dict[int, Session]

    def start_session(
        self,
        client_ids: Sequence[int],
        setting: str = "",
        plan_ids: Sequence[str] = (),
        started_at: datetime | None = None,
        cpt_codes: Sequence[str] = (),
        second_observer_of: int | None = None,
    ) -> Session:
        """Open a session for one client or a group; `started_at` defaults to now (set it for past data).

        `second_observer_of`: this is a second observer's blind record of that session (for inter-observer
        agreement), of some of its clients; it stays out of the record's figures."""
        ids = tuple(dict.fromkeys(client_ids))
        if not ids:
            raise ValueError("a session needs at least one client")
        for client_id in ids:
            load_client(self._db, client_id)
        if second_observer_of is not None:
            observed = self.session(second_observer_of)
            if observed.second_observer_of is not None or not set(ids) <= set(observed.client_ids):
                raise ValueError("a second observer observes a session's own clients, in a primary session")
        moment = started_at or utc_now()
        local_day = (moment if moment.tzinfo is None else moment.astimezone()).date()
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO sessions (date, started_at, setting, plan_ids, cpt_codes, second_observer_of) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    local_day.isoformat(),
                    iso(moment),
                    setting,
                    json.dumps(list(plan_ids)),
                    json.dumps(list(cpt_codes)),
                    second_observer_of,
                ),
            )
            session_id = int(cursor.lastrowid or 0)
            conn.executemany(
                "INSERT INTO session_clients (session_id, client_id) VALUES (?, ?)",
                [(session_id, client_id) for client_id in ids],
            )
        if started_at is None:
            self._anchors[session_id] = time.monotonic()
        return self.session(session_id)

    def end_session(
        self,
        session_id: int,
        ended_at: datetime | None = None,
        plan_ids: Sequence[str] = (),
        cpt_codes: Sequence[str] | None = None,
    ) -> Session:
        """Close a session; the interventions used are those given, planned and switched to during it."""
        current = self.session(session_id)
        switched = [
            row["plan_id"]
            for row in self._db.query(
                "SELECT DISTINCT plan_id FROM events WHERE session_id = ? AND kind = 'intervention' "
                "AND plan_id IS NOT NULL ORDER BY seq",
                (session_id,),
            )
        ]
        used = _merge(_merge(current.plan_ids, plan_ids), switched)
        codes = current.cpt_codes if cpt_codes is None else tuple(cpt_codes)
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE sessions SET ended_at = ?, plan_ids = ?, cpt_codes = ? WHERE id = ?",
                (iso(ended_at or utc_now()), json.dumps(list(used)), json.dumps(list(codes)), session_id),
            )
        self._session_cache.pop(session_id, None)
        mark_attended(self._db, current)
        return self.session(session_id)

    def set_cpt_codes(self, session_id: int, codes: Sequence[str]) -> Session:
        """The session's billing codes, e.g. corrected on the note after the session ended. A change once a
        note of the session is finalised goes into the billing audit trail (`billing_audit`), with what the
        codes were and who changed them: a claim may already have been sent."""
        checked = parse_billing_codes(" ".join(codes))
        before = self.session(session_id).cpt_codes  # UnknownRecord for a session that does not exist
        if checked == before:
            return self.session(session_id)
        signed = self._db.query_one(
            "SELECT 1 FROM notes WHERE session_id = ? AND finalised = 1 LIMIT 1", (session_id,)
        )
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE sessions SET cpt_codes = ? WHERE id = ?", (json.dumps(list(checked)), session_id)
            )
            if signed is not None:
                conn.execute(
                    "INSERT INTO billing_audit (session_id, changed_at, before, after, changed_by) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        session_id,
                        iso(utc_now()),
                        json.dumps(before),
                        json.dumps(list(checked)),
                        load_therapist(self._db).signature,
                    ),
                )
        self._session_cache.pop(session_id, None)
        return self.session(session_id)

    def billing_audit(self, session_id: int) -> list[BillingChange]:
        """Changes to a session's codes made after one of its notes was finalised, oldest first."""
        rows = self._db.query(
            "SELECT changed_at, before, after, changed_by FROM billing_audit WHERE session_id = ? "
            "ORDER BY id",
            (session_id,),
        )
        return [
            BillingChange(
                r["changed_at"],
                tuple(json.loads(r["before"])),
                tuple(json.loads(r["after"])),
                r["changed_by"],
            )
            for r in rows
        ]

    def billed(self, session_id: int) -> list[BilledLine] | str:
        """The session's codes with their units (8-minute rule over time in to time out), or why the units
        cannot be worked out yet."""
        session = self.session(session_id)
        return billed_lines(parse_codes(" ".join(session.cpt_codes)), session.duration_minutes)

    def session(self, session_id: int) -> Session:
        found = self._session_cache[session_id] = load_session(self._db, session_id)
        return found

    def sessions(
        self,
        client_id: int | None = None,
        start: date | None = None,
        end: date | None = None,
        second_observers: bool = False,
    ) -> list[Session]:
        """Sessions, oldest first, optionally of one client and within [start, end] (inclusive dates).
        A second observer's sessions only with `second_observers` (they are not the record)."""
        clauses: list[str] = [] if second_observers else ["s.second_observer_of IS NULL"]
        params: list[object] = []
        if client_id is not None:
            clauses.append("s.id IN (SELECT session_id FROM session_clients WHERE client_id = ?)")
            params.append(client_id)
        if start is not None:
            clauses.append("s.date >= ?")
            params.append(start.isoformat())
        if end is not None:
            clauses.append("s.date <= ?")
            params.append(end.isoformat())
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        return [
            _session(row) for row in self._db.query(SESSION_SELECT + where + " ORDER BY s.started_at", params)
        ]

    def second_observers(self, session_id: int) -> list[Session]:
        """The second observers' sessions of a session (one query: this runs at every session's end)."""
        rows = self._db.query(
            SESSION_SELECT + " WHERE s.second_observer_of = ? ORDER BY s.started_at", (session_id,)
        )
        return [_session(row) for row in rows]

    # -- notes -------------------------------------------------------------------------------------------
    def note(self, session_id: int, client_id: int) -> SessionNote:
        """The saved SOAP note, or an empty one (draft it with companion.documents.soap)."""
        row = self._db.query_one(
            "SELECT * FROM notes WHERE session_id = ? AND client_id = ?", (session_id, client_id)
        )
        return _note(row) if row else SessionNote(session_id=session_id, client_id=client_id)

    def save_note(self, note: SessionNote) -> SessionNote:
        """Save a draft, or finalise it: signed with the therapist's name and credential and the time, and
        from then on never rewritten (FinalisedNote; add an addendum instead). ValueError when finalising
        before a therapist is set up to sign."""
        session = self.session(note.session_id)
        if note.client_id not in session.client_ids:
            raise ValueError(f"client {note.client_id} was not in session {note.session_id}")
        if note.home_practice not in ("", *HOME_PRACTICE):
            raise ValueError(f"home practice {note.home_practice!r} is not one of {', '.join(HOME_PRACTICE)}")
        stored = self.note(note.session_id, note.client_id)
        if stored.finalised:
            raise FinalisedNote(
                f"the note of session {note.session_id} was finalised on {stored.signed_at or 'signing'} by "
                f"{stored.signed_by or 'its author'}: it is never rewritten; add an addendum instead"
            )
        now = iso(utc_now())
        saved = replace(note, updated_at=now, signed_by="", signed_at=None)
        if note.finalised:
            signer = load_therapist(self._db).signature
            if not signer:
                raise ValueError(
                    "a finalised note is signed: set your name and credential first "
                    '(companion profile --name "Your Name" --credential MT-BC)'
                )
            saved = replace(saved, signed_by=signer, signed_at=now)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO notes (session_id, client_id, subjective, objective, observations, assessment, "
                "plan, home_practice, home_report, updated_at, finalised, signed_by, signed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(session_id, client_id) DO UPDATE SET subjective=excluded.subjective, "
                "objective=excluded.objective, observations=excluded.observations, "
                "assessment=excluded.assessment, plan=excluded.plan, home_practice=excluded.home_practice, "
                "home_report=excluded.home_report, "
                "updated_at=excluded.updated_at, finalised=excluded.finalised, "
                "signed_by=excluded.signed_by, signed_at=excluded.signed_at",
                (
                    saved.session_id,
                    saved.client_id,
                    saved.subjective,
                    saved.objective,
                    saved.observations,
                    saved.assessment,
                    saved.plan,
                    saved.home_practice,
                    saved.home_report.strip(),
                    saved.updated_at,
                    int(saved.finalised),
                    saved.signed_by,
                    saved.signed_at,
                ),
            )
        return saved

    def add_addendum(self, session_id: int, client_id: int, text: str) -> Addendum:
        """A late entry on a finalised note, dated and signed on its own; the note stays as signed."""
        if not text.strip():
            raise ValueError("an addendum needs text")
        if not self.note(session_id, client_id).finalised:
            raise ValueError("only a finalised note takes addenda: edit the draft itself")
        signer = load_therapist(self._db).signature
        if not signer:
            raise ValueError("an addendum is signed: set your name and credential first (companion profile)")
        addendum = Addendum(session_id, client_id, text.strip(), iso(utc_now()), signer)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO note_addenda (session_id, client_id, text, written_at, signed_by) "
                "VALUES (?, ?, ?, ?, ?)",
                (session_id, client_id, addendum.text, addendum.written_at, addendum.signed_by),
            )
        return addendum

    def addenda(self, session_id: int, client_id: int) -> list[Addendum]:
        rows = self._db.query(
            "SELECT * FROM note_addenda WHERE session_id = ? AND client_id = ? ORDER BY id",
            (session_id, client_id),
        )
        return [
            Addendum(r["session_id"], r["client_id"], r["text"], r["written_at"], r["signed_by"])
            for r in rows
        ]

    def describe_session(
        self, session_id: int, present: str | None = None, modality: str | None = None
    ) -> Session:
        """Who was present (caregiver, co-treating discipline) and the modality (in person, telehealth
        video or audio), as the note and the claim state them."""
        current = self.session(session_id)
        chosen = current.modality if modality is None else modality
        if chosen not in MODALITIES:
            raise ValueError(f"modality {chosen!r} is not one of {', '.join(MODALITIES)}")
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE sessions SET present = ?, modality = ? WHERE id = ?",
                (current.present if present is None else present.strip(), chosen, session_id),
            )
        self._session_cache.pop(session_id, None)
        return self.session(session_id)
