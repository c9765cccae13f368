"""Who is using the record, which clients they may see, and the audit entry every read and change leaves.

One `Access` object is shared by the record's parts, as the cache is. Why one object and not a `viewer`
argument on every method: the parts call one another (a note reads its session, a summary its client's
objectives), and the identity must reach all of them the same way; existing callers pass nothing.

Two modes:
- A solo practice (no staff defined, the default and every folder made before staff existed): nobody
  signs in, every client is visible, nothing is audited: there is one reader.
- A practice with staff: `record.staff.sign_in` sets the identity. Until then every client read or change
  raises `SignInRequired` (fail closed: health information). A therapist sees the clients they own and
  those shared with them; a supervisor or an admin sees all. Every client read and change is audited.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from companion.record.audit import append_change, append_entry
from companion.record.connection import Connection
from companion.record.database import Database
from companion.record.model import Therapist

Role = Literal["therapist", "supervisor", "admin"]
ROLES: tuple[Role, ...] = ("therapist", "supervisor", "admin")

READ_WINDOW_S = 60.0
"""A read of the same thing by the same person within this many seconds is not written again: a screen
refreshing its figures at every tap would otherwise bury the reads that matter (and fsync at each)."""


@dataclass(frozen=True)
class StaffMember:
    """A therapist, supervisor or admin of the practice (`record.staff`)."""

    id: int
    name: str
    credentials: str
    role: Role
    active: bool = True
    created_at: str = ""
    npi: str = ""
    """Their National Provider Identifier ("" until set): a claim for their sessions names it."""

    @property
    def therapist(self) -> Therapist:
        """Who signs when they are signed in: their name, credentials and NPI."""
        return Therapist(self.name, self.credentials, self.npi)

    @property
    def signature(self) -> str:
        """E.g. "Jane Doe, MT-BC": how their notes and co-signatures are signed."""
        return self.therapist.signature

    @property
    def sees_all(self) -> bool:
        """Supervisors and admins see every client; a therapist their caseload."""
        return self.role in ("supervisor", "admin")


@dataclass(frozen=True)
class SignedIn(StaffMember):
    """The member who signed in (only `Staff.sign_in` makes one): what the record checks and the audit
    log names."""


class SignInRequired(PermissionError):
    """The record has staff, so client data needs someone signed in."""


class NotPermitted(PermissionError):
    """The signed-in person may not do this (a client not on their caseload, a role they do not hold)."""


def visible_clients_sql(staff_id: int) -> tuple[str, tuple[int, int]]:
    """The ids of the clients a therapist may see: those they own and those shared with them."""
    return (
        "SELECT id FROM clients WHERE owner_id = ? "
        "OR id IN (SELECT client_id FROM client_shares WHERE staff_id = ?)",
        (staff_id, staff_id),
    )


class Access:
    """The identity in use, caseload visibility and audit entries, shared by the record's parts."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.identity: SignedIn | None = None
        self._staff_exist: bool | None = None
        self._recent_reads: dict[tuple[int, str, str, int | None], float] = {}
        """When each (staff id, target, target id, client id) was last audited as read."""

    def staff_exist(self) -> bool:
        """Whether this record has staff (then someone must sign in). Read once, then kept up to date by
        `record.staff` as it adds the first member."""
        if self._staff_exist is None:
            self._staff_exist = self._db.query_one("SELECT 1 FROM staff LIMIT 1") is not None
        return self._staff_exist

    def staff_added(self) -> None:
        self._staff_exist = True

    def who(self) -> SignedIn | None:
        """The signed-in person, None in a solo practice; SignInRequired when staff exist and nobody is."""
        if self.identity is None and self.staff_exist():
            raise SignInRequired(
                "This record has therapists: sign in first (companion --user NAME ...; the password is "
                "asked, or read from COMPANION_PASSWORD)."
            )
        return self.identity

    def require_role(self, *roles: Role, doing: str) -> SignedIn | None:
        """The signed-in person if they hold one of `roles` (None in a solo practice), else NotPermitted."""
        who = self.who()
        if who is not None and who.role not in roles:
            raise NotPermitted(
                f"only {' or '.join(roles)} staff may {doing}; {who.signature} is a {who.role}"
            )
        return who

    def visible_filter(self) -> tuple[str, tuple[int, int]] | None:
        """SQL selecting the client ids the signed-in therapist may see; None when every client is visible."""
        who = self.who()
        return None if who is None or who.sees_all else visible_clients_sql(who.id)

    def check(self, client_ids: Iterable[int], target: str = "clients", target_id: object = "") -> None:
        """NotPermitted (audited as refused) unless the signed-in person may see one of `client_ids`."""
        ids = tuple(client_ids)
        visible = self.visible_filter()
        if visible is None or not ids:
            return
        sql, params = visible
        marks = ", ".join("?" * len(ids))
        if self._db.query_one(
            f"SELECT 1 FROM ({sql}) AS visible WHERE id IN ({marks}) LIMIT 1", (*params, *ids)
        ):
            return
        who = self.identity
        assert who is not None  # visible_filter returned a filter: someone is signed in
        with self._db.transaction() as conn:
            for client_id in ids:
                append_entry(conn, who.id, who.signature, "refused", target, target_id, client_id)
        shown = ", ".join(str(i) for i in ids)
        raise NotPermitted(
            f"{who.signature} may not see client {shown}: not on their caseload and not shared with them "
            f"(its therapist, a supervisor or an admin can share it: companion clients share {ids[0]} NAME)"
        )

    def read(self, target: str, target_id: object, client_ids: Iterable[int]) -> None:
        """Check and audit a read of a client's record (once per `READ_WINDOW_S` for a repeat)."""
        ids = tuple(client_ids)
        self.check(ids, target, target_id)
        who = self.identity
        if who is None:
            return
        now = time.monotonic()
        keys = [(who.id, target, str(target_id), client_id) for client_id in ids or (None,)]
        fresh = [k for k in keys if now - self._recent_reads.get(k, -READ_WINDOW_S) >= READ_WINDOW_S]
        if not fresh:
            return
        with self._db.transaction() as conn:
            for key in fresh:
                append_entry(conn, who.id, who.signature, "read", target, target_id, key[3])
        self._recent_reads.update(dict.fromkeys(fresh, now))

    def changed(
        self,
        conn: Connection,
        action: str,
        target: str,
        target_id: object,
        client_ids: Iterable[int | None] = (None,),
        detail: str = "",
    ) -> None:
        """Audit a change inside its own transaction `conn` (nothing in a solo practice)."""
        who = self.identity
        if who is not None:
            append_change(conn, who.id, who.signature, action, target, target_id, client_ids, detail)
