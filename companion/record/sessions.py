"""Sessions (one client or a group), their attendance and inter-observer agreement (`record.sessions`)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import date, datetime

from companion.record.access import Access
from companion.record.agreement import Agreement, agreements
from companion.record.attendance import attendance_from_row
from companion.record.cache import RecordCache
from companion.record.caseload import Caseload
from companion.record.clock import iso, utc_now
from companion.record.database import Database
from companion.record.event_log import EventLog
from companion.record.event_queries import plans_switched_to
from companion.record.model import ATTENDANCE, CANCELLED_BY, MODALITIES, Attendance, Session
from companion.record.session_queries import (
    first_session_on,
    load_session,
    second_observer_sessions,
    sessions_matching,
)


def _merge(first: Sequence[str], second: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*first, *second]))


class Sessions:
    """Starting, ending and describing sessions, who attended, and how far two observers agreed."""

    def __init__(
        self, db: Database, cache: RecordCache, access: Access, caseload: Caseload, events: EventLog
    ) -> None:
        self._db = db
        self._cache = cache
        self._access = access
        self._caseload = caseload
        self._events = events

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
            self._caseload.client(client_id)
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
            self._access.changed(conn, "create", "sessions", session_id, ids)
        if started_at is None:
            self._cache.anchors[session_id] = time.monotonic()
        return self.session(session_id)

    def end_session(
        self,
        session_id: int,
        ended_at: datetime | None = None,
        plan_ids: Sequence[str] = (),
        cpt_codes: Sequence[str] | None = None,
    ) -> Session:
        """Close a session; the interventions used are those given, planned and switched to during it. When
        a second observer took part, the agreement is computed and stored with the observed session once
        both have ended (a record still being taken would show a disagreement that is only a delay)."""
        current = self.session(session_id)
        switched = plans_switched_to(self._db, session_id)
        used = _merge(_merge(current.plan_ids, plan_ids), switched)
        codes = current.cpt_codes if cpt_codes is None else tuple(cpt_codes)
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE sessions SET ended_at = ?, plan_ids = ?, cpt_codes = ? WHERE id = ?",
                (iso(ended_at or utc_now()), json.dumps(list(used)), json.dumps(list(codes)), session_id),
            )
            self._access.changed(conn, "update", "sessions", session_id, current.client_ids, "ended")
        self.forget(session_id)
        self._mark_attended(current)
        ended = self.session(session_id)
        observed = ended.second_observer_of if ended.second_observer_of is not None else ended.id
        if self.session(observed).ended_at is not None and self.second_observers(observed):
            self.compute_agreement(observed)
        return ended

    def session(self, session_id: int) -> Session:
        found = load_session(self._db, session_id)
        self._access.read("sessions", session_id, found.client_ids)
        self._cache.sessions[session_id] = found
        return found

    def forget(self, session_id: int) -> None:
        """Drop a session from the shared cache after changing it (the event log stamps taps with it)."""
        self._cache.sessions.pop(session_id, None)

    def sessions(
        self,
        client_id: int | None = None,
        start: date | None = None,
        end: date | None = None,
        second_observers: bool = False,
    ) -> list[Session]:
        """Sessions, oldest first, optionally of one client and within [start, end] (inclusive dates).
        A second observer's sessions only with `second_observers` (they are not the record). A signed-in
        therapist gets only sessions with a client they may see."""
        if client_id is not None:
            self._access.read("sessions", "list", (client_id,))
        visible = self._access.visible_filter()
        return sessions_matching(self._db, client_id, start, end, second_observers, visible)

    def second_observers(self, session_id: int) -> list[Session]:
        """The second observers' sessions of a session."""
        self.session(session_id)
        return second_observer_sessions(self._db, session_id)

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
            self._access.changed(conn, "update", "sessions", session_id, current.client_ids, "described")
        self.forget(session_id)
        return self.session(session_id)

    # -- attendance -----------------------------------------------------------------------------------
    def set_attendance(
        self, client_id: int, day: date, status: str, cancelled_by: str = "", minutes: int = 0
    ) -> Attendance:
        """Record a client's attendance on a day (replacing what was recorded); ValueError naming the
        choices for an unknown status, a cancellation without who cancelled, or minutes that make no sense."""
        if status not in ATTENDANCE:
            raise ValueError(f"attendance {status!r} is not one of {', '.join(ATTENDANCE)}")
        if (status == "cancelled") != bool(cancelled_by):
            raise ValueError(
                f"a cancellation says who cancelled ({', '.join(CANCELLED_BY)}), and only it does"
            )
        if cancelled_by and cancelled_by not in CANCELLED_BY:
            raise ValueError(f"cancelled by {cancelled_by!r}: choose {', '.join(CANCELLED_BY)}")
        if minutes < 0 or (minutes and status not in ("late", "left early")):
            raise ValueError("minutes are how late, or how early the client left (late / left early only)")
        self._access.check((client_id,), "attendance", day.isoformat())
        session_id = first_session_on(self._db, client_id, day)
        found = Attendance(client_id, day, status, cancelled_by, minutes, session_id)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO attendance (client_id, day, status, cancelled_by, minutes, session_id, "
                "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(client_id, day) DO UPDATE SET "
                "status=excluded.status, cancelled_by=excluded.cancelled_by, minutes=excluded.minutes, "
                "session_id=excluded.session_id, recorded_at=excluded.recorded_at",
                (client_id, day.isoformat(), status, cancelled_by, minutes, found.session_id, iso(utc_now())),
            )
            self._access.changed(conn, "update", "attendance", day.isoformat(), (client_id,), status)
        return found

    def attendance(
        self, client_id: int, start: date | None = None, end: date | None = None
    ) -> list[Attendance]:
        """A client's attendance between two days (inclusive), oldest first."""
        self._access.read("attendance", "list", (client_id,))
        rows = self._db.query(
            "SELECT * FROM attendance WHERE client_id = ? AND day >= ? AND day <= ? ORDER BY day",
            (client_id, (start or date.min).isoformat(), (end or date.max).isoformat()),
        )
        return [attendance_from_row(row) for row in rows]

    def _mark_attended(self, session: Session) -> None:
        """An ended session's members attended, unless their day already says otherwise (late, left early)."""
        if session.second_observer_of is not None:
            return
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO attendance (client_id, day, status, session_id, recorded_at) "
                "VALUES (?, ?, 'attended', ?, ?)",
                [(c, session.date.isoformat(), session.id, iso(utc_now())) for c in session.client_ids],
            )

    # -- inter-observer agreement ----------------------------------------------------------------------
    def compute_agreement(self, session_id: int) -> list[Agreement]:
        """Agreement of each ended second observer's record with the session's, per objective; stored."""
        members = self.session(session_id).client_ids
        primary = self._events.session_events(session_id)
        found: list[tuple[int, Agreement]] = []
        for observer in self.second_observers(session_id):
            if observer.ended_at is None:  # still observing: its figure comes when it ends
                continue
            clients = set(observer.client_ids)
            mine = [e for e in primary if e.client_id in clients]
            found += [(observer.id, a) for a in agreements(mine, self._events.session_events(observer.id))]
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT INTO agreements (session_id, objective_id, measure, agreement_pct, items, "
                "observer_session_id, computed_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (session_id, objective_id, measure) DO UPDATE SET agreement_pct = "
                "excluded.agreement_pct, items = excluded.items, observer_session_id = "
                "excluded.observer_session_id, computed_at = excluded.computed_at",
                [
                    (
                        session_id,
                        a.objective_id,
                        a.measure,
                        a.agreement_pct,
                        a.items,
                        observer,
                        iso(utc_now()),
                    )
                    for observer, a in found
                ],
            )
            self._access.changed(conn, "update", "agreements", session_id, members)
        return [a for _, a in found]

    def agreement(self, session_id: int) -> list[Agreement]:
        """The agreement stored with a session (computed when it or its second observer ended)."""
        self.session(session_id)
        rows = self._db.query(
            "SELECT objective_id, measure, agreement_pct, items FROM agreements WHERE session_id = ? "
            "ORDER BY objective_id, measure",
            (session_id,),
        )
        return [Agreement(r["objective_id"], r["measure"], r["agreement_pct"], r["items"]) for r in rows]
