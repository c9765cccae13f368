"""SOAP notes of sessions, their addenda, and the therapist who signs them (`record.notes`).

A finalised note is signed with the therapist's name and credential and never rewritten: documentation a
payer or a court may read must stay as it was signed, so later corrections are dated, signed addenda. In a
practice with staff, the signed-in member signs, and a supervisor may co-sign a finalised note (their
review, as supervision and some payers require): the co-signature is kept beside the signature.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace

from companion.record.access import Access, NotPermitted
from companion.record.clock import iso, utc_now
from companion.record.connection import Row
from companion.record.database import Database
from companion.record.model import HOME_PRACTICE, Addendum, SessionNote, Therapist
from companion.record.sessions import Sessions

THERAPIST_KEY = "therapist"


def valid_npi(npi: str) -> bool:
    """A National Provider Identifier: 10 digits, the last the Luhn check digit over 80840 + the first 9."""
    if len(npi) != 10 or not npi.isdigit():
        return False
    digits = [int(d) for d in "80840" + npi[:9]]
    total = sum(d if i % 2 else sum(divmod(d * 2, 10)) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10 == int(npi[9])


NPI_LOOKUP = "look the number up on the NPPES registry, https://npiregistry.cms.hhs.gov"


def checked_npi(npi: str) -> str:
    """The NPI without surrounding spaces ("" stays "": none yet); ValueError naming the check it fails, so
    a typo is caught here rather than by the payer who rejects the claim weeks later."""
    npi = npi.strip()
    if npi and (len(npi) != 10 or not npi.isdigit()):
        raise ValueError(f"NPI {npi!r} is not valid: an NPI is 10 digits; {NPI_LOOKUP}")
    if npi and not valid_npi(npi):
        raise ValueError(
            f"NPI {npi!r} is not valid: its last digit fails the Luhn check (over 80840 and the first "
            f"9 digits), so a digit is mistyped; {NPI_LOOKUP}"
        )
    return npi


class FinalisedNote(ValueError):
    """A change to a note that was finalised (signed): it is never rewritten; an addendum is the way."""


def _note(row: Row) -> SessionNote:
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
        signed_npi=row["signed_npi"],
        signed_at=row["signed_at"],
        cosigned_by=row["cosigned_by"],
        cosigned_at=row["cosigned_at"],
    )


class Notes:
    """Notes, addenda and the signing therapist, over the shared database."""

    def __init__(self, db: Database, access: Access, sessions: Sessions) -> None:
        self._db = db
        self._access = access
        self._sessions = sessions

    # -- the signing therapist ---------------------------------------------------------------------------
    def therapist(self) -> Therapist:
        """Who signs this record's notes: the signed-in member of staff, else the profile set with
        `set_therapist` (empty until set: a note cannot be finalised unsigned)."""
        who = self._access.identity
        if who is not None:
            return who.therapist
        row = self._db.query_one("SELECT value FROM settings WHERE key = ?", (THERAPIST_KEY,))
        return Therapist(**json.loads(row["value"])) if row else Therapist()

    def set_therapist(self, name: str, credential: str, npi: str = "") -> Therapist:
        """The solo practice's signing therapist; ValueError for an empty name or credential, or an NPI
        whose check digit is wrong (a typo a payer would reject). A practice with staff has no such
        profile (each member signs as themselves: `Staff.update`), so it is refused there rather than kept
        where nobody reads it."""
        profile = Therapist(name.strip(), credential.strip(), checked_npi(npi))
        if not profile.name or not profile.credential:
            raise ValueError("a signature needs your name and your credential (e.g. MT-BC)")
        if self._access.who() is not None:
            raise ValueError(
                "in a practice with staff each member signs as their staff entry: "
                "companion staff update NAME --credentials ... --npi ..."
            )
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (THERAPIST_KEY, json.dumps(asdict(profile))),
            )
            self._access.changed(conn, "update", "settings", THERAPIST_KEY)
        return profile

    # -- notes -------------------------------------------------------------------------------------------
    def note(self, session_id: int, client_id: int) -> SessionNote:
        """The saved SOAP note, or an empty one (draft it with companion.documents.soap)."""
        self._access.read("notes", f"{session_id}/{client_id}", (client_id,))
        row = self._db.query_one(
            "SELECT * FROM notes WHERE session_id = ? AND client_id = ?", (session_id, client_id)
        )
        return _note(row) if row else SessionNote(session_id=session_id, client_id=client_id)

    def has_finalised_note(self, session_id: int) -> bool:
        """Whether any note of the session was finalised (from then on its billing changes are audited)."""
        row = self._db.query_one(
            "SELECT 1 FROM notes WHERE session_id = ? AND finalised = 1 LIMIT 1", (session_id,)
        )
        return row is not None

    def save_note(self, note: SessionNote) -> SessionNote:
        """Save a draft, or finalise it: signed with the therapist's name and credential and the time, and
        from then on never rewritten (FinalisedNote; add an addendum instead). ValueError when finalising
        before a therapist is set up to sign."""
        session = self._sessions.session(note.session_id)
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
        saved = replace(note, updated_at=now, signed_by="", signed_npi="", signed_at=None)
        if note.finalised:
            signer = self.therapist()
            if not signer.signature:
                raise ValueError(
                    "a finalised note is signed: set your name and credential first "
                    '(companion profile --name "Your Name" --credential MT-BC)'
                )
            saved = replace(saved, signed_by=signer.signature, signed_npi=signer.npi, signed_at=now)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO notes (session_id, client_id, subjective, objective, observations, assessment, "
                "plan, home_practice, home_report, updated_at, finalised, signed_by, signed_npi, signed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(session_id, client_id) DO UPDATE SET subjective=excluded.subjective, "
                "objective=excluded.objective, observations=excluded.observations, "
                "assessment=excluded.assessment, plan=excluded.plan, home_practice=excluded.home_practice, "
                "home_report=excluded.home_report, "
                "updated_at=excluded.updated_at, finalised=excluded.finalised, "
                "signed_by=excluded.signed_by, signed_npi=excluded.signed_npi, signed_at=excluded.signed_at",
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
                    saved.signed_npi,
                    saved.signed_at,
                ),
            )
            action = "update" if stored.updated_at else "create"
            detail = "finalised" if saved.finalised else "draft"
            self._access.changed(
                conn, action, "notes", f"{note.session_id}/{note.client_id}", (note.client_id,), detail
            )
        return saved

    def add_addendum(self, session_id: int, client_id: int, text: str) -> Addendum:
        """A late entry on a finalised note, dated and signed on its own; the note stays as signed."""
        if not text.strip():
            raise ValueError("an addendum needs text")
        if not self.note(session_id, client_id).finalised:
            raise ValueError("only a finalised note takes addenda: edit the draft itself")
        signer = self.therapist().signature
        if not signer:
            raise ValueError("an addendum is signed: set your name and credential first (companion profile)")
        addendum = Addendum(session_id, client_id, text.strip(), iso(utc_now()), signer)
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO note_addenda (session_id, client_id, text, written_at, signed_by) "
                "VALUES (?, ?, ?, ?, ?)",
                (session_id, client_id, addendum.text, addendum.written_at, addendum.signed_by),
            )
            self._access.changed(conn, "create", "note_addenda", cursor.lastrowid, (client_id,))
        return addendum

    def cosign(self, session_id: int, client_id: int) -> SessionNote:
        """A signed-in supervisor's co-signature on a finalised note: their review, with who and when kept
        beside the signature (the note itself is unchanged). NotPermitted for anyone else; ValueError for
        a draft, a note co-signed already, or one the supervisor signed themselves."""
        who = self._access.identity
        if who is None or who.role != "supervisor":
            raise NotPermitted("only a signed-in supervisor may co-sign a note (companion --user NAME ...)")
        note = self.note(session_id, client_id)
        if not note.finalised:
            raise ValueError("only a finalised note is co-signed: its therapist finalises it first")
        if note.cosigned_at:
            raise ValueError(f"the note was co-signed already by {note.cosigned_by} on {note.cosigned_at}")
        if note.signed_by == who.signature:
            raise ValueError("a co-signature is a second person's review: you signed this note yourself")
        now = iso(utc_now())
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE notes SET cosigned_by = ?, cosigned_at = ? WHERE session_id = ? AND client_id = ? "
                "AND finalised = 1 AND cosigned_at IS NULL",
                (who.signature, now, session_id, client_id),
            )
            self._access.changed(conn, "co-sign", "notes", f"{session_id}/{client_id}", (client_id,))
        return replace(note, cosigned_by=who.signature, cosigned_at=now)

    def addenda(self, session_id: int, client_id: int) -> list[Addendum]:
        self._access.read("note_addenda", f"{session_id}/{client_id}", (client_id,))
        rows = self._db.query(
            "SELECT * FROM note_addenda WHERE session_id = ? AND client_id = ? ORDER BY id",
            (session_id, client_id),
        )
        return [
            Addendum(r["session_id"], r["client_id"], r["text"], r["written_at"], r["signed_by"])
            for r in rows
        ]
