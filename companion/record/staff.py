"""The practice's staff: therapists, supervisors and admins who sign in (`record.staff`).

A record with no staff is a solo practice, the default: nobody signs in, every client is visible and
nothing is audited, exactly as every folder made before staff existed. Adding the first member (who must
be an admin, so someone can manage the rest) turns the record into a practice: from then on client data
needs someone signed in (see `companion.record.access`).

Passwords are never stored or logged: only their argon2id hash (argon2-cffi's `PasswordHasher`), and a
hash made with weaker parameters than the current ones is replaced at the next successful sign-in. An
unknown name and a wrong password fail with the same message and take as long (an unknown name is
checked against a hash too), so a sign-in screen does not tell who works here; every failure is audited.

Each member signs as themselves: their name, credentials and NPI (Luhn-checked as the solo profile's, and
"" for the members added before migration 10 until they or an admin set it with `update`).
"""

from __future__ import annotations

from typing import TypeVar, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from companion.record.access import ROLES, Access, NotPermitted, Role, SignedIn, StaffMember
from companion.record.audit import append_entry
from companion.record.clock import iso, utc_now
from companion.record.connection import Row
from companion.record.database import Database
from companion.record.errors import UnknownRecord
from companion.record.notes import checked_npi

MIN_PASSWORD_LENGTH = 10
SIGN_IN_FAILED = "Sign-in failed: the name or the password is wrong (or the account is inactive)."


UNKNOWN_NAME = "(unknown name)"
"""The actor of a failed sign-in under a name no member has."""


class SignInFailed(PermissionError):
    """A wrong name, a wrong password or an inactive account: one message for all three, on purpose."""


Member = TypeVar("Member", bound=StaffMember)


def _member(row: Row, kind: type[Member]) -> Member:
    return kind(
        row["id"],
        row["name"],
        row["credentials"],
        cast(Role, row["role"]),
        bool(row["active"]),
        row["created_at"],
        row["npi"],
    )


def _checked_password(password: str) -> str:
    """The password if it is long enough; the message never repeats it."""
    if len(password) < MIN_PASSWORD_LENGTH or not password.strip():
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return password


class Staff:
    """Adding staff, their passwords, and signing in (which signs the whole record in)."""

    def __init__(self, db: Database, access: Access, hasher: PasswordHasher | None = None) -> None:
        self._db = db
        self._access = access
        self.hasher = hasher or PasswordHasher()
        """Replaceable (tests use cheaper parameters); a hash made with others is redone at sign-in."""
        self._decoy: str | None = None

    def add(
        self, name: str, password: str, credentials: str = "", role: Role = "therapist", npi: str = ""
    ) -> StaffMember:
        """A new member of staff, with the NPI their claims name (optional; ValueError naming the check a
        wrong one fails). The first must be an admin and needs nobody signed in; after that only a
        signed-in admin adds staff."""
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if not name.strip():
            raise ValueError("a member of staff needs a name")
        npi = checked_npi(npi)
        if self._access.staff_exist():
            self._access.require_role("admin", doing="add staff")
        elif role != "admin":
            raise ValueError("the first member of staff manages the others: add yourself with --role admin")
        if self._db.query_one("SELECT 1 FROM staff WHERE name = ?", (name.strip(),)):
            raise ValueError(f"there is already a member of staff named {name.strip()!r}")
        digest = self.hasher.hash(_checked_password(password))
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO staff (name, credentials, role, password_hash, created_at, npi) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (name.strip(), credentials.strip(), role, digest, iso(utc_now()), npi),
            )
            staff_id = int(cursor.lastrowid or 0)
            self._access.changed(conn, "create", "staff", staff_id, detail=role)
        self._access.staff_added()
        return self._named(name)

    def exist(self) -> bool:
        """Whether the record has staff (then someone signs in), or is a solo practice."""
        return self._access.staff_exist()

    def member(self, name: str) -> StaffMember:
        """A member by name (for someone signed in: who works here is not told to anyone else)."""
        self._access.who()
        return self._named(name)

    def _named(self, name: str) -> StaffMember:
        return _member(self._row(name), StaffMember)

    def _row(self, name: str) -> Row:
        row = self._db.query_one("SELECT * FROM staff WHERE name = ?", (name.strip(),))
        if row is None:
            raise UnknownRecord(f"no member of staff named {name.strip()!r} (see `companion staff list`)")
        return row

    def members(self) -> list[StaffMember]:
        """Everyone, active or not, by name (for someone signed in)."""
        self._access.who()
        return [_member(row, StaffMember) for row in self._db.query("SELECT * FROM staff ORDER BY name")]

    def set_password(self, name: str, password: str) -> None:
        """A new password for `name`: by themselves, or by an admin (a forgotten password)."""
        member = self._self_or_admin(name, doing="set another member's password")
        digest = self.hasher.hash(_checked_password(password))
        with self._db.transaction() as conn:
            conn.execute("UPDATE staff SET password_hash = ? WHERE id = ?", (digest, member.id))
            self._access.changed(conn, "update", "staff", member.id, detail="password")

    def update(self, name: str, credentials: str | None = None, npi: str | None = None) -> StaffMember:
        """New credentials or NPI ("" clears it) for `name`, by themselves or an admin: what their notes
        are signed with from now on (notes signed before keep their signature)."""
        given: dict[str, str] = {}  # column -> value; the column names are this method's, never the caller's
        if credentials is not None:
            given["credentials"] = credentials.strip()
        if npi is not None:
            given["npi"] = checked_npi(npi)
        member = self._self_or_admin(name, doing="change another member's credentials or NPI")
        if given:
            with self._db.transaction() as conn:
                assignments = ", ".join(f"{column} = ?" for column in given)
                conn.execute(f"UPDATE staff SET {assignments} WHERE id = ?", (*given.values(), member.id))
                self._access.changed(conn, "update", "staff", member.id, detail=", ".join(given))
        who = self._access.identity
        if who is not None and who.id == member.id:  # signed in as themselves: they sign anew from now on
            self._access.identity = _member(self._row(name), SignedIn)
        return self._named(name)

    def _self_or_admin(self, name: str, doing: str) -> StaffMember:
        """The member `name` if the signed-in person is them or an admin, else NotPermitted."""
        member = self.member(name)
        who = self._access.who()
        if who is not None and who.id != member.id:
            self._access.require_role("admin", doing=doing)
        return member

    def set_active(self, name: str, active: bool) -> StaffMember:
        """Let a member sign in again, or no longer (someone who left: their entries and notes stay)."""
        member = self.member(name)
        who = self._access.require_role("admin", doing="activate or deactivate staff")
        if who is not None and who.id == member.id and not active:
            raise NotPermitted("an admin cannot deactivate themselves (another admin can)")
        with self._db.transaction() as conn:
            conn.execute("UPDATE staff SET active = ? WHERE id = ?", (int(active), member.id))
            self._access.changed(
                conn, "update", "staff", member.id, detail="active" if active else "inactive"
            )
        return self.member(name)

    def sign_in(self, name: str, password: str) -> SignedIn:
        """Sign the record in as `name`; SignInFailed (the same message whatever was wrong) otherwise, and
        then nobody is signed in (whoever was before is signed out: a shared terminal)."""
        self._access.identity = None
        row = self._db.query_one("SELECT * FROM staff WHERE name = ?", (name.strip(),))
        digest = row["password_hash"] if row is not None else self._decoy_hash()
        try:
            self.hasher.verify(digest, password)
            matched = row is not None and bool(row["active"])
        except (VerificationError, InvalidHashError):
            matched = False
        if row is None or not matched:
            with self._db.transaction() as conn:
                # An unknown name is not written down: it is often a password typed into the name field.
                staff_id = row["id"] if row is not None else None
                actor = row["name"] if row is not None else UNKNOWN_NAME
                append_entry(conn, staff_id, actor, "sign-in-failed", "staff", staff_id or "")
            raise SignInFailed(SIGN_IN_FAILED)
        who = _member(row, SignedIn)
        rehashed = self.hasher.hash(password) if self.hasher.check_needs_rehash(digest) else None
        with self._db.transaction() as conn:  # hashed before: not while holding the write lock
            if rehashed is not None:
                conn.execute("UPDATE staff SET password_hash = ? WHERE id = ?", (rehashed, who.id))
            append_entry(conn, who.id, who.signature, "sign-in", "staff", who.id)
        self._access.identity = who
        return who

    def sign_out(self) -> None:
        self._access.identity = None

    @property
    def signed_in(self) -> SignedIn | None:
        """Who is signed in now (None: nobody, or a solo practice): the app shows it and offers what their
        role may do."""
        return self._access.identity

    def _decoy_hash(self) -> str:
        """A hash an unknown name is checked against, so it takes as long as a known one."""
        if self._decoy is None:
            self._decoy = self.hasher.hash("not a password anyone has")
        return self._decoy
