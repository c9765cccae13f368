"""The audit log: every read and change of a client's record by a signed-in member, append-only even to
raw SQL, and the supervisor's co-signature. Real SQLite files throughout."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from support.raw_record import raw_connection
from support.staffed import PASSWORD, Staffed

from companion.documents.paperwork import signature_line
from companion.record import EventDraft, Note, Record, SessionNote
from companion.record.access import NotPermitted, SignInRequired
from companion.record.audit import AuditLog
from companion.record.cipher import SQL_ERRORS

START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def entries_of(staffed: Staffed) -> list[tuple[str | None, str, str]]:
    """(actor, action, target) of every entry after the practice was set up, read as the supervisor."""
    with staffed.open_as("Sue") as record:
        found = record.audit.entries()
    setup = max(i for i, e in enumerate(found) if e.actor == "Ada, MT-BC")
    return [(e.actor, e.action, e.target) for e in found[setup + 1 :] if e.action != "sign-in"]


def test_every_change_through_the_parts_is_audited_with_its_actor_and_client(staffed: Staffed) -> None:
    with staffed.open_as("Tom") as record:
        dee = record.caseload.add_client("Dee")
        record.caseload.update_client(dee.id, preferred_music="drums")
        goal = record.caseload.add_goal(dee.id, "communication", "requests")
        record.caseload.update_goal(goal.id, description="2-word requests")
        objective = record.caseload.add_objective(goal.id, "asks for a drum")
        record.caseload.update_objective(objective.id, target="drum")
        record.caseload.set_phase(objective.id, "baseline", START.date())
        session = record.sessions.start_session([dee.id], started_at=START)
        tap = record.events.log(session.id, EventDraft(Note("calm")))
        record.events.undo(tap.id)
        record.sessions.describe_session(session.id, present="mother")
        record.sessions.end_session(session.id, ended_at=START + timedelta(minutes=30))
        record.billing.set_cpt_codes(session.id, ["97530:30"])
        record.sessions.set_attendance(dee.id, START.date() + timedelta(days=7), "no-show")
        record.notes.save_note(SessionNote(session.id, dee.id, subjective="tired"))
        record.notes.save_note(SessionNote(session.id, dee.id, subjective="tired", finalised=True))
        record.notes.add_addendum(session.id, dee.id, "mother called")
    with staffed.open_as("Sue") as record:
        mine = [e for e in record.audit.entries(client_id=dee.id) if e.action not in ("read", "sign-in")]
    assert {e.actor for e in mine} == {"Tom, MT-BC"} and {e.staff_id for e in mine} == {staffed.staff["Tom"]}
    assert [(e.action, e.target) for e in mine] == [
        ("create", "clients"),
        ("update", "clients"),
        ("create", "goals"),
        ("update", "goals"),
        ("create", "objectives"),
        ("update", "objectives"),
        ("create", "objective_phases"),
        ("create", "sessions"),
        ("create", "events"),
        ("delete", "events"),  # an undo
        ("update", "sessions"),  # described
        ("update", "sessions"),  # ended
        ("update", "sessions"),  # billing codes
        ("update", "attendance"),
        ("create", "notes"),
        ("update", "notes"),  # finalised
        ("create", "note_addenda"),
    ]
    assert mine[-2].detail == "finalised" and mine[-2].target_id == f"{session.id}/{dee.id}"


def test_every_read_of_a_client_s_record_is_audited_once_a_minute(staffed: Staffed) -> None:
    with staffed.open_as("Tess") as record:
        session = record.sessions.start_session([staffed.ben], started_at=START)
        record.sessions.end_session(session.id, ended_at=START + timedelta(minutes=30))
    with staffed.open_as("Sue") as record:
        before = len(record.audit.entries())
        record.caseload.client(staffed.ben)
        record.caseload.client(staffed.ben)  # again within the minute: one entry
        record.staff.sign_in("Tess", PASSWORD)
        record.caseload.client(staffed.ben)  # but someone else's read is theirs
        record.staff.sign_in("Sue", PASSWORD)
        record.sessions.sessions(staffed.ben)
        record.notes.note(session.id, staffed.ben)
        record.progress.client_progress(staffed.ben)
        record.progress.summary(session.id)
        found = record.audit.entries()[before:]
    reads = {(e.target, e.target_id) for e in found if e.action == "read" and e.client_id == staffed.ben}
    assert {
        ("clients", str(staffed.ben)),
        ("sessions", "list"),
        ("notes", f"{session.id}/{staffed.ben}"),
        ("progress", "client"),
        ("summaries", str(session.id)),
    } <= reads
    client_reads = [
        e.actor for e in found if (e.action, e.target, e.target_id) == ("read", "clients", str(staffed.ben))
    ]
    assert client_reads == ["Sue, MT-BC", "Tess, MT-BC, NMT"]


def test_a_refused_read_is_audited_as_refused(staffed: Staffed) -> None:
    with staffed.open_as("Tom") as record, pytest.raises(NotPermitted):
        record.caseload.client(staffed.ben)
    assert entries_of(staffed)[-1] == ("Tom, MT-BC", "refused", "clients")


def test_practice_settings_need_someone_signed_in_and_their_changes_are_audited(staffed: Staffed) -> None:
    with staffed.open_as(None) as record:
        for change in (
            lambda: record.caseload.set_prompt_hierarchy(["independent", "gestural", "physical"]),
            lambda: record.notes.set_therapist("Someone", "MT-BC"),
        ):
            with pytest.raises(SignInRequired):
                change()
    with staffed.open_as("Sue") as record:
        record.caseload.set_prompt_hierarchy(["independent", "gestural", "physical"])
        assert record.caseload.prompt_hierarchy() == ("independent", "gestural", "physical")
    assert entries_of(staffed)[-1] == ("Sue, MT-BC", "update", "settings")


def test_the_audit_log_refuses_update_and_delete_even_through_raw_sql(staffed: Staffed) -> None:
    assert not any(hasattr(AuditLog, name) for name in ("update", "delete", "remove", "clear"))
    with raw_connection(staffed.data_dir) as conn:
        count = conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
        assert count > 0
        with pytest.raises(SQL_ERRORS, match="append-only"):
            conn.execute("UPDATE audit_log SET actor = 'someone else'")
        with pytest.raises(SQL_ERRORS, match="append-only"):
            conn.execute("DELETE FROM audit_log")
        assert conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == count
        assert conn.execute("SELECT COUNT(*) FROM audit_log WHERE actor = 'someone else'").fetchone()[0] == 0


def test_only_supervisors_and_admins_read_the_audit_log_by_client_and_date(staffed: Staffed) -> None:
    with staffed.open_as("Tom") as record, pytest.raises(NotPermitted, match="read the audit log"):
        record.audit.entries()
    with staffed.open_as("Ada") as record:
        everything = record.audit.entries()
        assert record.audit.entries(since=date.today() + timedelta(days=1)) == []
        assert record.audit.entries(since=date.today() - timedelta(days=1)) == everything
        ava = record.audit.entries(client_id=staffed.ava)
    assert ava and {e.client_id for e in ava} == {staffed.ava}
    assert [e.at for e in everything] == sorted(e.at for e in everything)
    assert all(e.at.endswith("+00:00") for e in everything)  # UTC


def finalised_note(staffed: Staffed) -> tuple[int, int]:
    with staffed.open_as("Tom") as record:
        session = record.sessions.start_session([staffed.ava], started_at=START)
        record.sessions.end_session(session.id, ended_at=START + timedelta(minutes=30))
        record.notes.save_note(SessionNote(session.id, staffed.ava, assessment="progressing"))
    return session.id, staffed.ava


def test_only_a_supervisor_co_signs_and_only_a_finalised_note(staffed: Staffed) -> None:
    session_id, ava = finalised_note(staffed)
    for name in ("Tom", "Ada"):
        with (
            staffed.open_as(name) as record,
            pytest.raises(NotPermitted, match="only a signed-in supervisor"),
        ):
            record.notes.cosign(session_id, ava)
    with staffed.open_as("Sue") as record, pytest.raises(ValueError, match="only a finalised note"):
        record.notes.cosign(session_id, ava)
    with staffed.open_as("Tom") as record:
        draft = record.notes.note(session_id, ava)
        record.notes.save_note(SessionNote(session_id, ava, assessment=draft.assessment, finalised=True))
    with staffed.open_as("Sue") as record:
        cosigned = record.notes.cosign(session_id, ava)
        with pytest.raises(ValueError, match="co-signed already"):
            record.notes.cosign(session_id, ava)
    with staffed.open_as("Tom") as record:
        stored = record.notes.note(session_id, ava)
    assert stored == cosigned and (stored.signed_by, stored.cosigned_by) == ("Tom, MT-BC", "Sue, MT-BC")
    assert stored.cosigned_at is not None and stored.assessment == "progressing"
    line = signature_line(stored)
    assert (
        line.startswith("Electronically signed by Tom, MT-BC on ") and " Co-signed by Sue, MT-BC on " in line
    )
    assert [e for e in entries_of(staffed) if e[1] == "co-sign"] == [("Sue, MT-BC", "co-sign", "notes")]


def test_a_solo_practice_has_nobody_to_co_sign_and_keeps_no_audit_log(record: Record) -> None:
    record.notes.set_therapist("Jane Doe", "MT-BC")
    ava = record.caseload.add_client("Ava")
    session = record.sessions.start_session([ava.id], started_at=START)
    record.notes.save_note(SessionNote(session.id, ava.id, finalised=True))
    with pytest.raises(NotPermitted, match="only a signed-in supervisor"):
        record.notes.cosign(session.id, ava.id)
    assert record.audit.entries() == []
