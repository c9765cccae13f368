"""Every query on the `events` table, each a named function: the SQL stays in this one module.

Events are never deleted: an undo is a tombstone row whose `undoes` column points at its target, so
"live" events are those that are not tombstones and not undone (`_NOT_UNDONE`). Callers (the event log,
sessions, progress) ask for what they need by name and get `Event`s or figures back, never SQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from companion.record.connection import Connection, Row
from companion.record.database import Database
from companion.record.model import Event
from companion.record.payload_json import payload_from_json, payload_to_json
from companion.record.payloads import Tombstone

_COLUMNS = "id, session_id, client_id, objective_id, plan_id, kind, wall_time, offset_s, payload"
_NOT_UNDONE = "kind != 'tombstone' AND id NOT IN (SELECT undoes FROM events WHERE undoes IS NOT NULL)"
_INSERT = f"INSERT OR IGNORE INTO events ({_COLUMNS}, undoes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

EventRow = Sequence[object]
"""An event as the values of one row (also what a rescue file keeps, one per line)."""


def event_from_row(row: EventRow | Row) -> Event:
    """An event from its values in `event_row`'s order (a stored row's columns come in that order too)."""
    values: Sequence[Any] = row[:9]
    event_id, session_id, client_id, objective_id, plan_id, kind, wall_time, offset_s, payload = values
    return Event(
        id=event_id,
        session_id=session_id,
        client_id=client_id,
        objective_id=objective_id,
        plan_id=plan_id,
        wall_time=wall_time,
        offset_s=offset_s,
        payload=payload_from_json(kind, json.loads(payload)),
    )


def event_row(event: Event) -> EventRow:
    """The values `insert_events` stores for an event."""
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


def audited_change(row: EventRow) -> tuple[str, tuple[int | None], str]:
    """How the audit log names logging an event: an undo deletes its target, anything else is created;
    for its client, with its kind as the detail."""
    client_id, kind = row[2], str(row[5])
    client = client_id if isinstance(client_id, int) else None
    return ("delete" if kind == Tombstone.kind else "create", (client,), kind)


def insert_events(conn: Connection, rows: Sequence[EventRow]) -> int:
    """Insert rows inside the caller's transaction; a row whose id is stored already is skipped (a retry
    or a rescue file never adds an event twice). Returns how many were new."""
    before = conn.total_changes
    conn.executemany(_INSERT, rows)
    return conn.total_changes - before


def _matching(
    db: Database, where: str, params: Sequence[object], *, include_undone: bool = False
) -> list[Event]:
    condition = where if include_undone else f"({where}) AND {_NOT_UNDONE}"
    rows = db.query(f"SELECT {_COLUMNS} FROM events WHERE {condition} ORDER BY seq", params)
    return [event_from_row(row) for row in rows]


def stored_event(db: Database, event_id: str) -> Event | None:
    row = db.query_one(f"SELECT {_COLUMNS} FROM events WHERE id = ?", (event_id,))
    return None if row is None else event_from_row(row)


def stored_session_events(db: Database, session_id: int) -> list[Event]:
    """A session's stored events in logging order, undone ones and tombstones included."""
    return _matching(db, "session_id = ?", (session_id,), include_undone=True)


def latest_of_kind(db: Database, client_id: int, kind: str) -> Event | None:
    """The client's last live event of `kind` in any session."""
    events = _matching(
        db,
        f"seq = (SELECT MAX(seq) FROM events WHERE client_id = ? AND kind = ? AND {_NOT_UNDONE})",
        (client_id, kind),
    )
    return events[-1] if events else None


def latest_per_objective(db: Database, objective_ids: Sequence[int], kinds: Sequence[str]) -> list[Event]:
    """The last live event of each of `kinds` for each objective, in logging order."""
    if not objective_ids or not kinds:
        return []
    ids, named = ", ".join("?" * len(objective_ids)), ", ".join("?" * len(kinds))
    return _matching(
        db,
        f"seq IN (SELECT MAX(seq) FROM events WHERE kind IN ({named}) AND objective_id IN ({ids}) "
        f"AND {_NOT_UNDONE} GROUP BY objective_id, kind)",
        [*kinds, *objective_ids],
    )


def is_undone(db: Database, event_id: str) -> bool:
    return db.query_one("SELECT 1 FROM events WHERE undoes = ?", (event_id,)) is not None


def last_plan(db: Database, session_id: int) -> str | None:
    """The intervention switched to last in a session (None before any)."""
    row = db.query_one(
        "SELECT plan_id FROM events WHERE session_id = ? AND kind = 'intervention' ORDER BY seq DESC",
        (session_id,),
    )
    return row[0] if row else None


def plans_switched_to(db: Database, session_id: int) -> list[str]:
    """The interventions switched to during a session, in the order first used."""
    rows = db.query(
        "SELECT plan_id FROM events WHERE session_id = ? AND kind = 'intervention' "
        "AND plan_id IS NOT NULL GROUP BY plan_id ORDER BY MIN(seq)",
        (session_id,),
    )
    return [row["plan_id"] for row in rows]


def _live_of_objective(kinds: Sequence[str]) -> str:
    marks = ", ".join(f"'{kind}'" for kind in kinds)
    return (
        "WITH live AS (SELECT * FROM events WHERE objective_id = :objective "
        f"AND kind IN ({marks}) AND {_NOT_UNDONE}) "
    )


def objective_events(db: Database, objective_id: int, kinds: Sequence[str]) -> list[Event]:
    """An objective's live events of `kinds`, in logging order."""
    found = db.query(
        f"{_live_of_objective(kinds)} SELECT {_COLUMNS} FROM live ORDER BY seq", {"objective": objective_id}
    )
    return [event_from_row(row) for row in found]


# Per metric: the event kinds it reads and one SQL aggregate per session over them (`live` = the
# objective's events of those kinds that were not undone). Each row: session_id, then the figures.
def _field(name: str) -> str:
    """A number (a boolean as 1/0) of the payload. Portable: PostgreSQL has a numeric `json_extract` of its
    own (companion.record.postgres), so text fields are read with `_text` instead."""
    return f"json_extract(payload, '$.{name}')"


def _text(name: str) -> str:
    """A text field of the payload (SQLite's `->>` operator; PostgreSQL's over TEXT is the record's own)."""
    return f"(payload ->> '{name}')"


def _at_least_one(expression: str) -> str:
    return f"(CASE WHEN {expression} > 1 THEN {expression} ELSE 1 END)"


# Beats a sync exercise covered (hits matched to a beat + beats missed): what its pct_within is a share of.
_SYNC_BEATS = _at_least_one(f"{_field('n_hits')} - {_field('extra')} + {_field('missed')}")
_METRIC_SQL: dict[str, tuple[tuple[str, ...], str]] = {
    "percent_correct": (
        ("trial",),
        f"SELECT session_id, COUNT(*), 100.0 * SUM({_field('correct')}) / COUNT(*) "
        "FROM live GROUP BY session_id",
    ),
    "percent_independent": (
        ("trial",),
        f"SELECT session_id, COUNT(*), 100.0 * SUM(CASE WHEN {_field('correct')} = 1 AND "
        f"{_text('prompt_level')} = :first THEN 1 ELSE 0 END) / COUNT(*) FROM live GROUP BY session_id",
    ),
    "count": (
        ("count",),
        f"SELECT session_id, COUNT(*), SUM({_field('delta')}) FROM live GROUP BY session_id",
    ),
    "latency_seconds": (
        ("latency",),
        f"SELECT session_id, COUNT(*), AVG({_field('seconds')}) FROM live GROUP BY session_id",
    ),
    "rating_after": (
        ("rating",),
        f"SELECT session_id, {_text('label')}, AVG(CASE WHEN {_text('phase')} = 'before' THEN "
        f"{_field('value')} END), AVG(CASE WHEN {_text('phase')} = 'after' THEN {_field('value')} END) "
        "FROM live GROUP BY session_id, 2",
    ),
    "cadence_spm": (
        ("cadence",),
        f"SELECT session_id, COUNT(*), (SELECT {_field('steps_per_min')} FROM live AS later WHERE "
        "later.session_id = live.session_id ORDER BY seq DESC LIMIT 1) FROM live GROUP BY session_id",
    ),
    "interval_pct": (
        ("sample",),
        f"SELECT session_id, COUNT(*), 100.0 * SUM({_field('occurred')}) / COUNT(*) "
        "FROM live GROUP BY session_id",
    ),
    "sync_pct_within": (
        ("sync",),
        f"SELECT session_id, SUM({_field('n_hits')}), SUM({_field('pct_within')} * {_SYNC_BEATS}) "
        f"/ SUM({_SYNC_BEATS}) FROM live GROUP BY session_id",
    ),
}
_METRIC_SQL["rating_change"] = _METRIC_SQL["rating_after"]


def metric_per_session(
    db: Database, objective_id: int, metric: str, first_level: str
) -> list[tuple[Any, ...]]:
    """One row per session for a metric aggregated inside SQLite: (session_id, sample, value), or for the
    ratings (session_id, label, mean before, mean after) per label. Why in SQL: years of weekly sessions
    are tens of thousands of events, and the review screen must answer in well under 100 ms."""
    kinds, aggregate = _METRIC_SQL[metric]
    params = {"objective": objective_id, "first": first_level}
    return [tuple(row) for row in db.query(_live_of_objective(kinds) + aggregate, params)]
