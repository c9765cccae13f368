"""Whose caseload a client is in: the client's own therapist and the therapists it is shared with.

A part of its own (`record.sharing`) beside `record.caseload`: who may see a client is decided here and in
`companion.record.access`, while the caseload part keeps the clinical content (clients, goals, objectives).
"""

from __future__ import annotations

from companion.record.access import Access, NotPermitted, SignedIn, visible_clients_sql
from companion.record.caseload import Caseload
from companion.record.connection import Connection
from companion.record.database import Database
from companion.record.errors import UnknownRecord
from companion.record.model import Client


class Sharing:
    """Assign a client to a therapist's caseload, share it, and list who may see which client."""

    def __init__(self, db: Database, access: Access, caseload: Caseload) -> None:
        self._db = db
        self._access = access
        self._caseload = caseload

    def assign(self, client_id: int, staff_id: int) -> Client:
        """Make `staff_id` the client's own therapist (their caseload); by the client's present therapist,
        a supervisor or an admin."""
        self._check_may_reassign(client_id)
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE clients SET owner_id = ? WHERE id = ?", (self._staff(conn, staff_id), client_id)
            )
            self._access.changed(conn, "update", "clients", client_id, (client_id,), f"owner={staff_id}")
        return self._caseload.client(client_id)

    def share(self, client_id: int, staff_id: int, shared: bool = True) -> list[int]:
        """Share the client with another therapist (co-treatment, cover), or stop sharing (`shared=False`);
        returns who it is shared with now."""
        self._check_may_reassign(client_id)
        with self._db.transaction() as conn:
            if shared:
                conn.execute(
                    "INSERT OR IGNORE INTO client_shares (client_id, staff_id) VALUES (?, ?)",
                    (client_id, self._staff(conn, staff_id)),
                )
            else:
                conn.execute(
                    "DELETE FROM client_shares WHERE client_id = ? AND staff_id = ?", (client_id, staff_id)
                )
            action = f"shared={staff_id}" if shared else f"unshared={staff_id}"
            self._access.changed(conn, "update", "clients", client_id, (client_id,), action)
        return self.shared_with(client_id)

    def shared_with(self, client_id: int) -> list[int]:
        """The staff ids a client is shared with (besides its own therapist)."""
        rows = self._db.query(
            "SELECT staff_id FROM client_shares WHERE client_id = ? ORDER BY staff_id", (client_id,)
        )
        return [row[0] for row in rows]

    def clients_visible_to(self, who: SignedIn) -> list[int]:
        """The ids of the clients `who` may see: their own and those shared with them; a supervisor or an
        admin sees all (what `clients()` returns once they sign in)."""
        if who.sees_all:
            return [row[0] for row in self._db.query("SELECT id FROM clients ORDER BY id")]
        sql, params = visible_clients_sql(who.id)
        return [row[0] for row in self._db.query(f"{sql} ORDER BY id", params)]

    def _check_may_reassign(self, client_id: int) -> None:
        current = self._caseload.client(client_id)
        who = self._access.who()
        if who is not None and not who.sees_all and current.owner_id != who.id:
            raise NotPermitted(
                f"only client {client_id}'s own therapist, a supervisor or an admin may assign or share it"
            )

    @staticmethod
    def _staff(conn: Connection, staff_id: int) -> int:
        if conn.execute("SELECT 1 FROM staff WHERE id = ?", (staff_id,)).fetchone() is None:
            raise UnknownRecord(f"no member of staff with id {staff_id} (see `companion staff list`)")
        return staff_id
