"""Reading sessions from the `sessions` and `session_clients` tables, each query a named function.

Apart from the `Sessions` part because the event log reads sessions too (every tap is stamped against its
session) and the `Sessions` part itself drives the event log: both read through this one module.
"""

from __future__ import annotations

import json
from datetime import date

from companion.record.connection import Row
from companion.record.database import Database
from companion.record.errors import UnknownRecord
from companion.record.model import Session

_SELECT = (
    "SELECT s.*, (SELECT json_group_array(client_id) FROM (SELECT client_id FROM session_clients sc "
    "WHERE sc.session_id = s.id ORDER BY client_id) AS members) AS client_ids "
    "FROM sessions s"
)


def _session(row: Row) -> Session:
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


def load_session(db: Database, session_id: int) -> Session:
    row = db.query_one(_SELECT + " WHERE s.id = ?", (session_id,))
    if row is None:
        raise UnknownRecord(f"no session with id {session_id}")
    return _session(row)


def sessions_matching(
    db: Database,
    client_id: int | None,
    start: date | None,
    end: date | None,
    second_observers: bool,
    visible: tuple[str, tuple[int, ...]] | None = None,
) -> list[Session]:
    """Sessions oldest first, of one client and within [start, end] when given; a second observer's
    sessions only with `second_observers`; only those with a client `visible` selects, when given."""
    clauses: list[str] = [] if second_observers else ["s.second_observer_of IS NULL"]
    params: list[object] = []
    if visible is not None:
        clauses.append(f"s.id IN (SELECT session_id FROM session_clients WHERE client_id IN ({visible[0]}))")
        params.extend(visible[1])
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
    return [_session(row) for row in db.query(_SELECT + where + " ORDER BY s.started_at", params)]


def second_observer_sessions(db: Database, session_id: int) -> list[Session]:
    """The second observers' sessions of a session (one query: this runs at every session's end)."""
    rows = db.query(_SELECT + " WHERE s.second_observer_of = ? ORDER BY s.started_at", (session_id,))
    return [_session(row) for row in rows]


def first_session_on(db: Database, client_id: int, day: date) -> int | None:
    """The id of the client's first primary session on a day, if any (what attendance points at)."""
    row = db.query_one(
        "SELECT s.id FROM sessions s JOIN session_clients sc ON sc.session_id = s.id "
        "WHERE sc.client_id = ? AND s.date = ? AND s.second_observer_of IS NULL ORDER BY s.started_at",
        (client_id, day.isoformat()),
    )
    return row["id"] if row else None
