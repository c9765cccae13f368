"""Attendance: who came, late or leaving early, who cancelled and who did not show, per client and day.

A payer and a supervisor both count it (a plan of care's "seen 10 of 12 scheduled sessions"), and in a group
each member's attendance is their own. An ended session marks its members attended unless something else
was recorded for them that day; late, left early, cancelled (by the client, the therapist or the facility)
and no-show are recorded by hand (`companion attendance`).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import date

from companion.record.clock import iso, utc_now
from companion.record.database import Database
from companion.record.model import ATTENDANCE, CANCELLED_BY, Attendance, Session


def _attendance(row: sqlite3.Row) -> Attendance:
    return Attendance(
        row["client_id"],
        date.fromisoformat(row["day"]),
        row["status"],
        row["cancelled_by"],
        row["minutes"],
        row["session_id"],
    )


def mark_attended(db: Database, session: Session) -> None:
    """An ended session's members attended, unless their day already says otherwise (late, left early)."""
    if session.second_observer_of is not None:
        return
    with db.transaction() as conn:
        conn.executemany(
            "INSERT OR IGNORE INTO attendance (client_id, day, status, session_id, recorded_at) "
            "VALUES (?, ?, 'attended', ?, ?)",
            [(c, session.date.isoformat(), session.id, iso(utc_now())) for c in session.client_ids],
        )


class AttendanceLog:
    """Attendance operations of the Record facade."""

    _db: Database

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
        row = self._db.query_one(
            "SELECT s.id FROM sessions s JOIN session_clients sc ON sc.session_id = s.id "
            "WHERE sc.client_id = ? AND s.date = ? AND s.second_observer_of IS NULL ORDER BY s.started_at",
            (client_id, day.isoformat()),
        )
        found = Attendance(client_id, day, status, cancelled_by, minutes, row["id"] if row else None)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO attendance (client_id, day, status, cancelled_by, minutes, session_id, "
                "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(client_id, day) DO UPDATE SET "
                "status=excluded.status, cancelled_by=excluded.cancelled_by, minutes=excluded.minutes, "
                "session_id=excluded.session_id, recorded_at=excluded.recorded_at",
                (client_id, day.isoformat(), status, cancelled_by, minutes, found.session_id, iso(utc_now())),
            )
        return found

    def attendance(
        self, client_id: int, start: date | None = None, end: date | None = None
    ) -> list[Attendance]:
        """A client's attendance between two days (inclusive), oldest first."""
        rows = self._db.query(
            "SELECT * FROM attendance WHERE client_id = ? AND day >= ? AND day <= ? ORDER BY day",
            (client_id, (start or date.min).isoformat(), (end or date.max).isoformat()),
        )
        return [_attendance(row) for row in rows]


def attendance_summary(entries: list[Attendance]) -> str:
    """E.g. "10 attended (1 late), 1 cancelled by the client, 1 no-show, of 12 scheduled"."""
    if not entries:
        return "no attendance recorded"
    counts = Counter(e.status for e in entries)
    came = counts["attended"] + counts["late"] + counts["left early"]
    parts = [f"{came} attended"]
    partial = [f"{counts[s]} {s}" for s in ("late", "left early") if counts[s]]
    if partial:
        parts[0] += f" ({', '.join(partial)})"
    by = Counter(e.cancelled_by for e in entries if e.status == "cancelled")
    parts += [f"{n} cancelled by the {who}" for who, n in by.most_common()]
    if counts["no-show"]:
        parts.append(f"{counts['no-show']} no-show")
    return ", ".join(parts) + f", of {len(entries)} scheduled"
