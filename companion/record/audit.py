"""The audit log: who read or changed which client's record, when (UTC), and who signed in (`record.audit`).

Client data is health information, and a practice of several therapists must be able to say who saw or
changed a record. Entries are only ever appended: this module has no way to change or remove one, and the
schema's triggers refuse an UPDATE or DELETE on `audit_log` even through raw SQL. An entry is written in
the same transaction as the change it describes, so a change is never stored without its entry. A solo
practice (no staff defined) signs nobody in and keeps no audit log: there is only one reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

from companion.record.clock import iso, utc_now
from companion.record.connection import Connection, Row
from companion.record.database import Database

ACTIONS = ("read", "create", "update", "delete", "sign-in", "sign-in-failed", "co-sign", "refused")
"""What an entry records; "refused": a signed-in therapist asked for a client not on their caseload."""


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log: `actor` as they were named then (a failed sign-in: the name typed)."""

    id: int
    at: str
    staff_id: int | None
    actor: str
    action: str
    target: str
    target_id: str
    client_id: int | None
    detail: str


def append_entry(
    conn: Connection,
    staff_id: int | None,
    actor: str,
    action: str,
    target: str = "",
    target_id: object = "",
    client_id: int | None = None,
    detail: str = "",
) -> None:
    """Append one entry inside the caller's transaction (the change and its entry commit together)."""
    if action not in ACTIONS:
        raise ValueError(f"audit action {action!r} is not one of {', '.join(ACTIONS)}")
    conn.execute(
        "INSERT INTO audit_log (at, staff_id, actor, action, target, target_id, client_id, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (iso(utc_now()), staff_id, actor, action, target, str(target_id), client_id, detail),
    )


def append_change(
    conn: Connection,
    staff_id: int,
    actor: str,
    action: str,
    target: str,
    target_id: object,
    client_ids: Iterable[int | None],
    detail: str = "",
) -> None:
    """One entry per client a change touches, inside the change's own transaction."""
    for client_id in client_ids:
        append_entry(conn, staff_id, actor, action, target, target_id, client_id, detail)


def _entry(row: Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        staff_id=row["staff_id"],
        actor=row["actor"],
        action=row["action"],
        target=row["target"],
        target_id=row["target_id"],
        client_id=row["client_id"],
        detail=row["detail"],
    )


def start_of(day: date) -> str:
    """A local calendar day's first moment as the log's UTC text (what `--since DATE` means)."""
    return iso(datetime.combine(day, time.min))


class AuditLog:
    """Reading the audit log (supervisors and admins, or the solo therapist); entries are appended by the
    record's parts through `Access`, never here."""

    def __init__(self, db: Database, check_reader: Callable[[], object]) -> None:
        """`check_reader` raises unless whoever is signed in may read the log (it knows the roles, this
        module does not: the parts that append entries import it)."""
        self._db = db
        self._check_reader = check_reader

    def entries(self, client_id: int | None = None, since: date | None = None) -> list[AuditEntry]:
        """Entries oldest first, of one client and from a local day on when given."""
        self._check_reader()
        clauses: list[str] = []
        params: list[object] = []
        if client_id is not None:
            clauses.append("client_id = ?")
            params.append(client_id)
        if since is not None:
            clauses.append("at >= ?")
            params.append(start_of(since))
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        return [_entry(row) for row in self._db.query(f"SELECT * FROM audit_log{where} ORDER BY id", params)]
