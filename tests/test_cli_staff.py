"""The staff, sign-in, co-sign and audit commands, run through click against a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from companion.cli import main
from companion.record import Record, SessionNote
from companion.record.staff import SIGN_IN_FAILED

ADMIN_PASSWORD = "admin password 1"
TOM_PASSWORD = "tom's password 2"
SUE_PASSWORD = "sue's password 3"


def run(
    data: Path, *args: str, user: str | None = None, password: str = "", new: str = "", typed: str = ""
) -> Result:
    """`companion --data-dir DATA [--user USER] ARGS`, passwords from the environment, `typed` on stdin."""
    env = {"COMPANION_PASSWORD": password, "COMPANION_NEW_PASSWORD": new, "COMPANION_USER": ""}
    options = ["--user", user] if user else []
    return CliRunner().invoke(main, ["--data-dir", str(data), *options, *args], env=env, input=typed)


@pytest.fixture
def practice(tmp_path: Path) -> Path:
    """Admin Ada (password typed twice on the terminal), therapist Tom and supervisor Sue."""
    data = tmp_path / "data"
    assert "a solo practice" in run(data, "staff", "list").output
    typed = f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n"
    added = run(data, "staff", "add", "Ada", "--role", "admin", "--credentials", "MT-BC", typed=typed)
    assert added.exit_code == 0 and "Added Ada (admin, staff id 1)" in added.output
    for name, role, secret in [("Tom", "therapist", TOM_PASSWORD), ("Sue", "supervisor", SUE_PASSWORD)]:
        added = run(
            data,
            "staff",
            "add",
            name,
            "--role",
            role,
            "--credentials",
            "MT-BC",
            user="Ada",
            password=ADMIN_PASSWORD,
            new=secret,
        )
        assert added.exit_code == 0, added.output
    return data


def test_staff_sign_in_with_a_password_from_the_environment_or_the_terminal(practice: Path) -> None:
    listing = run(practice, "staff", "list", user="Ada", password=ADMIN_PASSWORD)
    assert [line.split()[1:] for line in listing.output.splitlines()] == [
        ["Ada,", "MT-BC", "admin"],
        ["Sue,", "MT-BC", "supervisor"],
        ["Tom,", "MT-BC", "therapist"],
    ]
    typed = run(practice, "clients", "list", user="Tom", typed=f"{TOM_PASSWORD}\n")
    assert typed.exit_code == 0 and "Password for Tom" in typed.output and TOM_PASSWORD not in typed.output
    for command in (["clients", "list"], ["staff", "list"]):
        unsigned = run(practice, *command)
        assert unsigned.exit_code == 1 and "sign in first" in unsigned.output
    for user, password in [("Tom", "a wrong password"), ("Nobody", TOM_PASSWORD)]:
        failed = run(practice, "clients", "list", user=user, password=password)
        assert failed.exit_code == 1 and failed.output.strip() == f"Error: {SIGN_IN_FAILED}"


def test_a_therapist_lists_only_their_caseload_until_a_client_is_shared(practice: Path) -> None:
    assert run(practice, "clients", "add", "Ava", user="Tom", password=TOM_PASSWORD).exit_code == 0
    assert run(practice, "clients", "add", "Ben", user="Ada", password=ADMIN_PASSWORD).exit_code == 0
    tom = run(practice, "clients", "list", user="Tom", password=TOM_PASSWORD)
    assert "Ava" in tom.output and "Ben" not in tom.output
    refused = run(practice, "clients", "show", "2", user="Tom", password=TOM_PASSWORD)
    assert refused.exit_code == 1 and "Tom, MT-BC may not see client 2" in refused.output
    shared = run(practice, "clients", "share", "Ben", "Tom", user="Ada", password=ADMIN_PASSWORD)
    assert "Ben is shared with Tom." in shared.output
    assert "Ben" in run(practice, "clients", "list", user="Tom", password=TOM_PASSWORD).output


def test_a_supervisor_co_signs_and_reads_the_audit_log(practice: Path) -> None:
    run(practice, "clients", "add", "Ava", user="Tom", password=TOM_PASSWORD)
    with Record.open(practice, backup_every=None) as record:
        record.staff.sign_in("Tom", TOM_PASSWORD)
        start = datetime(2026, 12, 1, 15, tzinfo=UTC)
        session = record.sessions.start_session([1], started_at=start)
        record.sessions.end_session(session.id, ended_at=start + timedelta(minutes=30))
        record.notes.save_note(SessionNote(session.id, 1, assessment="progressing", finalised=True))
    by_tom = run(practice, "notes", "cosign", str(session.id), "Ava", user="Tom", password=TOM_PASSWORD)
    assert by_tom.exit_code == 1 and "only a signed-in supervisor may co-sign" in by_tom.output
    by_sue = run(practice, "notes", "cosign", str(session.id), "Ava", user="Sue", password=SUE_PASSWORD)
    assert by_sue.exit_code == 0 and "co-signed by Sue, MT-BC" in by_sue.output
    exported = run(practice, "export", str(session.id), "--out", "-", user="Sue", password=SUE_PASSWORD)
    assert "Co-signed by Sue, MT-BC on " in exported.output
    assert run(practice, "audit", user="Tom", password=TOM_PASSWORD).exit_code == 1
    log = run(
        practice, "audit", "--client", "Ava", "--since", "2000-01-01", user="Sue", password=SUE_PASSWORD
    )
    lines = log.output.splitlines()
    assert any("Tom, MT-BC  create  clients 1  client 1" in line for line in lines)
    assert any("Sue, MT-BC  co-sign  notes 1/1  client 1" in line for line in lines)
    assert all(" client 1" in line for line in lines)
    assert run(practice, "audit", user="Nobody", password=SUE_PASSWORD).exit_code == 1
    everything = run(practice, "audit", user="Ada", password=ADMIN_PASSWORD).output
    assert (
        "(unknown name)  sign-in-failed  staff" in everything
        and "Nobody" not in everything
        and "Tom, MT-BC  sign-in  staff" in everything
    )


def test_passwords_change_from_the_terminal_and_never_reach_the_files(practice: Path) -> None:
    changed = run(practice, "staff", "passwd", user="Tom", password=TOM_PASSWORD, new="tom's new password")
    assert changed.exit_code == 0 and "Password of Tom changed." in changed.output
    assert run(practice, "staff", "list", user="Tom", password=TOM_PASSWORD).exit_code == 1
    assert run(practice, "staff", "list", user="Tom", password="tom's new password").exit_code == 0
    other = run(practice, "staff", "passwd", "Sue", user="Tom", password="tom's new password", new="x" * 12)
    assert other.exit_code == 1 and "only admin staff may set another member's password" in other.output
    stored = b"".join(p.read_bytes() for p in practice.iterdir() if p.name.startswith("companion.db"))
    for secret in (ADMIN_PASSWORD, TOM_PASSWORD, SUE_PASSWORD, "tom's new password"):
        assert secret.encode() not in stored


def test_a_member_s_npi_is_set_when_added_or_later_and_a_wrong_one_is_refused_before_any_password(
    practice: Path,
) -> None:
    as_ada = {"user": "Ada", "password": ADMIN_PASSWORD}
    wrong = run(practice, "staff", "add", "Nia", "--npi", "1234567890", **as_ada, typed="never read\n")
    assert wrong.exit_code == 2 and "its last digit fails the Luhn check" in wrong.output
    assert "New password" not in wrong.output
    added = run(
        practice,
        "staff",
        "add",
        "Nia",
        "--credentials",
        "MT-BC",
        "--npi",
        "1234567893",
        **as_ada,
        new="nia's password 4",
    )
    assert added.exit_code == 0, added.output
    listing = run(practice, "staff", "list", **as_ada).output
    assert "Nia, MT-BC  therapist  NPI 1234567893" in listing and "Tom, MT-BC  therapist\n" in listing
    as_tom = {"user": "Tom", "password": TOM_PASSWORD}
    mine = run(practice, "staff", "update", "Tom", "--npi", "9876543213", **as_tom)
    assert mine.output == "Tom signs notes as Tom, MT-BC (NPI 9876543213).\n"
    assert "Notes are signed: Tom, MT-BC (NPI 9876543213)" in run(practice, "profile", **as_tom).output
    theirs = run(practice, "staff", "update", "Sue", "--npi", "1111111112", **as_tom)
    assert (
        theirs.exit_code == 1
        and "only admin staff may change another member's credentials or NPI" in theirs.output
    )
    too_short = run(practice, "staff", "update", "Tom", "--npi", "98765", **as_tom)
    assert too_short.exit_code == 2 and "an NPI is 10 digits" in too_short.output
    cleared = run(practice, "staff", "update", "Tom", "--npi", "", "--credentials", "MT-BC, NMT", **as_ada)
    assert cleared.output == "Tom signs notes as Tom, MT-BC, NMT (no NPI).\n"
    solo_profile = run(practice, "profile", "--name", "Tom", "--credential", "MT-BC", **as_tom)
    assert solo_profile.exit_code == 1 and "companion staff update NAME" in solo_profile.output
