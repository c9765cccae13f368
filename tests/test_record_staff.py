"""Staff who sign in, and who sees which clients: real SQLite files, real argon2 hashes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from support.raw_record import on_postgres, raw_connection
from support.staffed import PASSWORD, QUICK, Staffed

from companion.record import EventDraft, Note, Record
from companion.record.access import NotPermitted, SignInRequired
from companion.record.migrations import migrate
from companion.record.staff import SIGN_IN_FAILED, UNKNOWN_NAME, SignInFailed


def stored_hash(data_dir: Path, name: str) -> str:
    with raw_connection(data_dir) as conn:
        return str(conn.execute("SELECT password_hash FROM staff WHERE name = ?", (name,)).fetchone()[0])


def test_the_stored_password_is_an_argon2id_hash_never_the_password(staffed: Staffed) -> None:
    digest = stored_hash(staffed.data_dir, "Tom")
    assert digest.startswith("$argon2id$") and PASSWORD not in digest
    assert QUICK.verify(digest, PASSWORD)
    if not on_postgres():  # nor anywhere in the SQLite files (a server's files are not ours to read)
        files = [p for p in staffed.data_dir.iterdir() if p.name.startswith("companion.db")]
        assert files and all(PASSWORD.encode() not in p.read_bytes() for p in files)


def test_sign_in_with_the_right_password_names_the_member_and_their_role(staffed: Staffed) -> None:
    with staffed.open_as(None) as record:
        who = record.staff.sign_in("tom", PASSWORD)  # names are matched whatever their case
        assert (who.name, who.role, who.signature) == ("Tom", "therapist", "Tom, MT-BC")
        assert record.notes.therapist().signature == "Tom, MT-BC"  # the signed-in member signs notes


def test_a_wrong_password_an_unknown_name_and_an_inactive_account_fail_alike_and_are_audited(
    staffed: Staffed,
) -> None:
    with staffed.open_as("Ada") as record:
        record.staff.set_active("Tess", False)
    messages = []
    with staffed.open_as("Sue") as record:
        for name, password in [("Tom", "not his password"), ("Nobody", PASSWORD), ("Tess", PASSWORD)]:
            with pytest.raises(SignInFailed) as failed:
                record.staff.sign_in(name, password)
            messages.append(str(failed.value))
            for hidden in (record.caseload.clients, record.staff.members):
                with pytest.raises(SignInRequired):  # a failed sign-in signs out whoever was signed in
                    hidden()
    assert messages == [SIGN_IN_FAILED] * 3
    with staffed.open_as("Sue") as record:
        failures = [e for e in record.audit.entries() if e.action == "sign-in-failed"]
    assert [(e.actor, e.staff_id) for e in failures] == [
        ("Tom", staffed.staff["Tom"]),
        (UNKNOWN_NAME, None),  # a name nobody has may be a password typed in the wrong field
        ("Tess", staffed.staff["Tess"]),
    ]
    assert all("not his password" not in e.detail + e.actor for e in failures)


def test_a_hash_made_with_weaker_parameters_is_redone_at_the_next_sign_in(staffed: Staffed) -> None:
    before = stored_hash(staffed.data_dir, "Tom")
    stronger = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    with Record.open(staffed.data_dir, backup_every=None) as record:
        record.staff.hasher = stronger
        record.staff.sign_in("Tom", PASSWORD)
    after = stored_hash(staffed.data_dir, "Tom")
    assert after != before and "m=2048,t=2" in after and not stronger.check_needs_rehash(after)
    with Record.open(staffed.data_dir, backup_every=None) as record:
        record.staff.hasher = stronger
        assert record.staff.sign_in("Tom", PASSWORD).name == "Tom"
    assert stored_hash(staffed.data_dir, "Tom") == after  # current parameters: left as it is


def test_the_first_member_is_an_admin_and_then_only_a_signed_in_admin_adds_staff(tmp_path: Path) -> None:
    with Record.open(tmp_path, backup_every=None) as record:
        record.staff.hasher = QUICK
        with pytest.raises(ValueError, match="--role admin"):
            record.staff.add("Tom", PASSWORD, "MT-BC", role="therapist")
        with pytest.raises(ValueError, match="at least 10 characters") as short:
            record.staff.add("Ada", "hunter2", role="admin")
        assert "hunter2" not in str(short.value)
        record.staff.add("Ada", PASSWORD, role="admin")
        with pytest.raises(SignInRequired):
            record.staff.add("Tom", PASSWORD)
        record.staff.sign_in("Ada", PASSWORD)
        record.staff.add("Tom", PASSWORD, "MT-BC")
        with pytest.raises(ValueError, match="already a member of staff named 'tom'"):
            record.staff.add("tom", PASSWORD)
        record.staff.sign_in("Tom", PASSWORD)
        with pytest.raises(NotPermitted, match="only admin staff may add staff"):
            record.staff.add("Tess", PASSWORD)


def test_a_member_changes_their_own_password_and_an_admin_anyone_s(staffed: Staffed) -> None:
    with staffed.open_as("Tom") as record:
        record.staff.set_password("Tom", "a new long password")
        with pytest.raises(NotPermitted):
            record.staff.set_password("Tess", "a new long password")
    with staffed.open_as("Ada") as record:
        record.staff.set_password("Tess", "reset by the admin")
        with pytest.raises(SignInFailed):
            record.staff.sign_in("Tom", PASSWORD)
        assert record.staff.sign_in("Tom", "a new long password").name == "Tom"
        assert record.staff.sign_in("Tess", "reset by the admin").name == "Tess"


def test_a_therapist_sees_their_own_clients_and_those_shared_with_them(staffed: Staffed) -> None:
    with staffed.open_as("Tom") as record:
        assert [c.display_name for c in record.caseload.clients()] == ["Ava"]
        assert record.caseload.client(staffed.ava).owner_id == staffed.staff["Tom"]
        with pytest.raises(NotPermitted, match="may not see client"):
            record.caseload.client(staffed.ben)
        with pytest.raises(NotPermitted):
            record.caseload.find_client("Ben")
        assert record.caseload.find_client("ava").id == staffed.ava
        with pytest.raises(NotPermitted):  # only Ben's own therapist, a supervisor or an admin shares him
            record.sharing.share(staffed.ben, staffed.staff["Tom"])
    with staffed.open_as("Tess") as record:
        assert [c.display_name for c in record.caseload.clients()] == ["Ben"]
        record.sharing.share(staffed.ben, staffed.staff["Tom"])
    with staffed.open_as("Tom") as record:
        assert [c.display_name for c in record.caseload.clients()] == ["Ava", "Ben"]
        assert record.sharing.clients_visible_to(record.staff.sign_in("Tom", PASSWORD)) == [
            staffed.ava,
            staffed.ben,
        ]
    with staffed.open_as("Tess") as record:
        record.sharing.share(staffed.ben, staffed.staff["Tom"], shared=False)
    with staffed.open_as("Tom") as record:
        assert [c.display_name for c in record.caseload.clients()] == ["Ava"]


def test_supervisors_and_admins_see_every_client_including_the_unassigned(staffed: Staffed) -> None:
    for name in ("Sue", "Ada"):
        with staffed.open_as(name) as record:
            assert [c.display_name for c in record.caseload.clients()] == ["Ava", "Ben", "Cleo"]
    with staffed.open_as("Tom") as record, pytest.raises(NotPermitted):
        record.caseload.client(staffed.cleo)  # nobody's yet: only supervisors and admins
    with staffed.open_as("Sue") as record:
        record.sharing.assign(staffed.cleo, staffed.staff["Tom"])
    with staffed.open_as("Tom") as record:
        assert record.caseload.client(staffed.cleo).display_name == "Cleo"


def test_sessions_notes_goals_and_progress_follow_the_caseload(staffed: Staffed) -> None:
    with staffed.open_as("Tess") as record:
        goal = record.caseload.add_goal(staffed.ben, "gross motor", "walk")
        objective = record.caseload.add_objective(goal.id, "10 m walk")
        session = record.sessions.start_session([staffed.ben], started_at=datetime(2026, 12, 1, tzinfo=UTC))
        tap = record.events.log(session.id, EventDraft(Note("steady"), client_id=staffed.ben))
    with staffed.open_as("Tom") as record:
        assert record.sessions.sessions() == [] and record.caseload.objectives() == []
        for read in (
            lambda: record.sessions.session(session.id),
            lambda: record.sessions.sessions(staffed.ben),
            lambda: record.events.session_events(session.id),
            lambda: record.notes.note(session.id, staffed.ben),
            lambda: record.progress.summary(session.id),
            lambda: record.progress.objective_progress(objective.id),
            lambda: record.caseload.goals(staffed.ben),
            lambda: record.caseload.phases(objective.id),
            lambda: record.events.event(tap.id),
            lambda: record.sessions.second_observers(session.id),
            lambda: record.events.log(session.id, EventDraft(Note("not mine"))),
        ):
            with pytest.raises(NotPermitted):
                read()
    with staffed.open_as("Sue") as record:
        assert [s.id for s in record.sessions.sessions()] == [session.id]
        assert len(record.events.session_events(session.id)) == 1


def test_with_staff_defined_nothing_of_a_client_is_handed_out_before_sign_in(staffed: Staffed) -> None:
    with staffed.open_as(None) as record:
        for read in (
            record.caseload.clients,
            lambda: record.caseload.client(staffed.ava),
            lambda: record.caseload.add_client("Dee"),
            lambda: record.sessions.sessions(),
        ):
            with pytest.raises(SignInRequired, match="sign in first"):
                read()


def test_an_existing_single_user_folder_migrates_and_works_without_anyone_signing_in(tmp_path: Path) -> None:
    with raw_connection(tmp_path) as old:
        assert migrate(old, target=8) == 8
        old.execute(
            "INSERT INTO clients (display_name, created_at) VALUES ('Solo', '2025-01-01T00:00:00+00:00')"
        )
    with Record.open(tmp_path, backup_every=None) as record:
        (client,) = record.caseload.clients()
        assert client.display_name == "Solo" and client.owner_id is None
        session = record.sessions.start_session([client.id])
        record.events.log(session.id, EventDraft(Note("as ever")))
        record.sessions.end_session(session.id)
        assert record.staff.members() == [] and record.audit.entries() == []  # solo: nothing audited


def test_a_namesake_on_another_caseload_neither_blocks_nor_shows_in_a_lookup_by_name(
    staffed: Staffed,
) -> None:
    with staffed.open_as("Tess") as record:
        other = record.caseload.add_client("Ava")
    with staffed.open_as("Tom") as record:
        assert record.caseload.find_client("Ava").id == staffed.ava
    with staffed.open_as("Sue") as record, pytest.raises(LookupError, match=f"ids {staffed.ava}, {other.id}"):
        record.caseload.find_client("Ava")
