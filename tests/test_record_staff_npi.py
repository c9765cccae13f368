"""A member of staff's NPI: checked, kept, changed by themselves or an admin, and carried by the notes and
exports they sign as the solo profile's is. Real SQLite files and a real PostgreSQL server (the record
suite runs on both), real argon2 hashes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.raw_record import raw_connection
from support.staffed import PASSWORD, QUICK, Staffed

from companion.documents.export import to_markdown
from companion.documents.paperwork import signature_line
from companion.documents.selection import select
from companion.record import Record, SessionNote
from companion.record.access import NotPermitted
from companion.record.migrations import migrate
from companion.record.model import Therapist

TOM_NPI = "1234567893"
NIA_NPI = "9876543213"
START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def test_a_wrong_npi_is_refused_naming_the_check_and_nothing_is_added(staffed: Staffed) -> None:
    with staffed.open_as("Ada") as record:
        before = record.staff.members()
        with pytest.raises(ValueError, match=r"NPI '1234567890' is not valid: its last digit fails the Luhn"):
            record.staff.add("Nia", PASSWORD, "MT-BC", npi="1234567890")
        with pytest.raises(ValueError, match=r"NPI '12345' is not valid: an NPI is 10 digits; .*NPPES"):
            record.staff.add("Nia", PASSWORD, "MT-BC", npi="12345")
        assert record.staff.members() == before
        nia = record.staff.add("Nia", PASSWORD, "MT-BC", npi=f" {NIA_NPI} ")
        assert nia.npi == NIA_NPI and record.staff.member("Nia") == nia
    with staffed.open_as("Nia") as record:
        assert record.notes.therapist() == Therapist("Nia", "MT-BC", NIA_NPI)


def test_a_member_sets_their_own_npi_and_an_admin_anyone_s_and_each_change_is_audited(
    staffed: Staffed,
) -> None:
    with staffed.open_as("Tom") as record:
        assert record.notes.therapist() == Therapist("Tom", "MT-BC", "")  # added before they had one
        updated = record.staff.update("Tom", npi=TOM_NPI)
        assert (updated.npi, updated.credentials) == (TOM_NPI, "MT-BC")
        assert record.notes.therapist().npi == TOM_NPI  # signed in: signs with it at once
        with pytest.raises(ValueError, match="Luhn"):
            record.staff.update("Tom", npi="1234567894")
        with pytest.raises(NotPermitted, match="only admin staff may change another member's"):
            record.staff.update("Tess", npi=NIA_NPI)
    with staffed.open_as("Ada") as record:
        assert record.staff.member("Tom").npi == TOM_NPI  # the refused one changed nothing
        assert record.staff.member("Tess").npi == ""
        record.staff.update("Tess", credentials=" MT-BC, NMT, NICU-MT ", npi=NIA_NPI)
        record.staff.update("Tom", npi="")  # cleared
        assert record.staff.member("Tom").npi == ""
        changes = [e for e in record.audit.entries() if (e.action, e.target) == ("update", "staff")]
    assert [(e.actor, e.target_id, e.detail) for e in changes] == [
        ("Tom, MT-BC", str(staffed.staff["Tom"]), "npi"),
        ("Ada, MT-BC", str(staffed.staff["Tess"]), "credentials, npi"),
        ("Ada, MT-BC", str(staffed.staff["Tom"]), "npi"),
    ]
    with staffed.open_as("Tess") as record:
        assert record.notes.therapist() == Therapist("Tess", "MT-BC, NMT, NICU-MT", NIA_NPI)


def test_a_signed_in_therapist_s_note_and_its_billing_export_carry_their_npi(staffed: Staffed) -> None:
    with staffed.open_as("Ada") as record:
        record.staff.update("Tom", npi=TOM_NPI)
        record.staff.update("Sue", npi=NIA_NPI)
    with staffed.open_as("Tom") as record:
        session = record.sessions.start_session([staffed.ava], started_at=START)
        record.sessions.end_session(session.id, ended_at=START + timedelta(minutes=30))
        record.billing.set_cpt_codes(session.id, ["97530-GP"])
        note = record.notes.save_note(
            SessionNote(session.id, staffed.ava, assessment="steady", finalised=True)
        )
        by_tom = to_markdown(select(record, session_id=session.id))
    assert (note.signed_by, note.signed_npi) == ("Tom, MT-BC", TOM_NPI)
    assert f"Therapist: Tom, MT-BC, NPI {TOM_NPI}." in by_tom and "Billing: 97530-GP x 2 units" in by_tom
    assert f"Electronically signed by Tom, MT-BC (NPI {TOM_NPI}) on " in by_tom
    with staffed.open_as("Ada") as record:
        record.staff.update("Tom", npi="")  # later changes do not rewrite what was signed
    with staffed.open_as("Sue") as record:
        record.notes.cosign(session.id, staffed.ava)
        by_sue = to_markdown(select(record, session_id=session.id))
    # Whoever exports it, the note names its signer's NPI as it was when they signed.
    assert (
        f"Electronically signed by Tom, MT-BC (NPI {TOM_NPI}) on " in by_sue and " Co-signed by Sue" in by_sue
    )


def test_the_solo_profile_is_refused_in_a_practice_whose_members_sign_as_themselves(
    staffed: Staffed,
) -> None:
    with staffed.open_as("Tom") as record:
        with pytest.raises(ValueError, match="companion staff update NAME --credentials"):
            record.notes.set_therapist("Someone Else", "MT-BC", TOM_NPI)
        assert record.notes.therapist() == Therapist("Tom", "MT-BC", "")


def test_a_practice_from_before_npis_opens_its_members_without_one_and_they_sign_in(tmp_path: Path) -> None:
    with raw_connection(tmp_path) as old:
        assert migrate(old, target=9) == 9
        old.execute(
            "INSERT INTO staff (name, credentials, role, password_hash, created_at) "
            "VALUES ('Ada', 'MT-BC', 'admin', ?, '2026-11-01T00:00:00+00:00')",
            (QUICK.hash(PASSWORD),),
        )
        old.execute(
            "INSERT INTO clients (display_name, created_at) VALUES ('Cleo', '2026-11-01T00:00:00+00:00')"
        )
        old.execute(
            "INSERT INTO sessions (date, started_at) VALUES ('2026-11-02', '2026-11-02T15:00:00+00:00')"
        )
        old.execute("INSERT INTO session_clients VALUES (1, 1)")
        old.execute(
            "INSERT INTO notes (session_id, client_id, updated_at, finalised, signed_by, signed_at) "
            "VALUES (1, 1, '2026-11-02T16:00:00+00:00', 1, 'Ada, MT-BC', '2026-11-02T16:00:00+00:00')"
        )
    with Record.open(tmp_path, backup_every=None) as record:
        record.staff.hasher = QUICK
        ada = record.staff.sign_in("Ada", PASSWORD)
        assert (ada.name, ada.role, ada.npi) == ("Ada", "admin", "")
        signed_before = record.notes.note(1, 1)
        assert (signed_before.signed_by, signed_before.signed_npi) == ("Ada, MT-BC", "")
        assert signature_line(signed_before).startswith("Electronically signed by Ada, MT-BC on ")
        assert record.staff.update("Ada", npi=TOM_NPI).npi == TOM_NPI
    with Record.open(tmp_path, backup_every=None) as record:
        record.staff.hasher = QUICK
        assert record.staff.sign_in("Ada", PASSWORD).npi == TOM_NPI
