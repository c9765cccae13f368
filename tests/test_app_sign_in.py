"""The app in a practice with staff: the sign-in screen, each therapist's caseload, signing out, a
supervisor's co-signature from the note editor, and the audit log the app leaves. Real SQLite files, the
real argon2 check (the app's own hasher), driven with Textual's pilot.

A solo folder (no staff) opens straight on Today without any of this: every other app test runs on one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support.pilot import (
    SIZE,
    app_for,
    notices,
    on_screen,
    ready,
    sign_in,
    sign_in_message,
    start_session,
    until,
)
from support.staffed import Staffed
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, Static

from companion.app import CompanionApp
from companion.app.screens.help import HelpScreen
from companion.app.screens.note_editor import SoapScreen
from companion.app.screens.review import ReviewScreen
from companion.app.screens.session.screen import LiveSessionScreen
from companion.app.screens.sign_in import SignInScreen
from companion.app.screens.today import TodayScreen
from companion.live.services import Services
from companion.record import SessionNote
from companion.record.access import SignInRequired
from companion.record.staff import SIGN_IN_FAILED

START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def caseload(app: CompanionApp) -> list[str]:
    """The clients Today lists."""
    screen = app.screen
    assert isinstance(screen, TodayScreen)
    return [client.display_name for client in screen.clients]


def footer_keys(screen: Screen[object]) -> set[str]:
    """What the footer offers on `screen` now (Textual's own reading of `check_action`)."""
    return {active.binding.description for active in screen.active_bindings.values()}


def told(app: CompanionApp, words: str) -> bool:
    """Whether a notification so far says `words`."""
    return any(words in notice for notice in notices(app))


def finalised_note_by_tom(staffed: Staffed) -> int:
    """A session of Tom's with Ava, its note finalised and signed by Tom; returns the session id."""
    with staffed.open_as("Tom") as record:
        session = record.sessions.start_session([staffed.ava], started_at=START)
        record.sessions.end_session(session.id, ended_at=START + timedelta(minutes=30))
        record.notes.save_note(SessionNote(session.id, staffed.ava, assessment="steady", finalised=True))
    return session.id


async def note_editor_as(pilot: Pilot[None], name: str) -> SoapScreen:
    """Signed in as `name`, from Today (Ava highlighted): the review, then her one session's note."""
    await sign_in(pilot, name)
    await ready(pilot)
    await pilot.press("r")
    await on_screen(pilot, ReviewScreen)
    review = pilot.app.screen
    await until(pilot, lambda: review.query_one("#session-table").row_count == 1)
    await pilot.press("n")
    soap = await on_screen(pilot, SoapScreen)
    await until(pilot, lambda: soap.drafts)
    return soap


async def test_a_wrong_password_keeps_the_screen_and_the_name_then_the_right_one_opens_the_caseload(
    staffed: Staffed,
) -> None:
    app = app_for(staffed.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "Tom", "not the password")
        await until(pilot, lambda: sign_in_message(app) == SIGN_IN_FAILED)
        screen = app.screen
        assert isinstance(screen, SignInScreen)
        assert screen.query_one("#name", Input).value == "Tom"
        assert screen.query_one("#password", Input).value == ""
        assert screen.query_one("#password", Input).password  # typed as dots, never shown
        await sign_in(pilot, "Tom")
        await ready(pilot)
        assert caseload(app) == ["Ava"]  # not Tess's Ben, nor Cleo whom nobody owns
        assert app.screen.sub_title.endswith(" · Tom, MT-BC") and app.sub_title == "Tom, MT-BC"
    with staffed.open_as("Sue") as record:
        entries = record.audit.entries()
    by_app = entries[next(i for i, e in enumerate(entries) if e.action == "sign-in-failed") :]
    tom = "Tom, MT-BC"  # a failed sign-in is written under the name as typed, a success signs
    assert [(e.actor, e.action) for e in by_app[:2]] == [("Tom", "sign-in-failed"), (tom, "sign-in")]
    reads = [e for e in by_app if e.action == "read"]
    assert reads and {e.actor for e in reads} == {tom}
    assert {e.staff_id for e in reads} == {staffed.staff["Tom"]}
    assert staffed.ava in {e.client_id for e in reads} and staffed.ben not in {e.client_id for e in reads}


async def test_a_supervisor_sees_every_client(staffed: Staffed) -> None:
    app = app_for(staffed.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "Sue")
        await ready(pilot)
        assert sorted(caseload(app)) == ["Ava", "Ben", "Cleo"]


async def test_signing_out_closes_the_caseload_and_the_next_therapist_sees_only_theirs(
    staffed: Staffed,
) -> None:
    app = app_for(staffed.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, SignInScreen)
        assert not app.check_action("sign_out", ())  # nobody to sign out: not offered
        await sign_in(pilot, "Tom")
        await ready(pilot)
        await pilot.press("question_mark")
        await on_screen(pilot, HelpScreen)
        assert app.screen.listed["Sign out"] == "^l"
        await pilot.press("escape", "r")
        await on_screen(pilot, ReviewScreen)
        await pilot.press("ctrl+l")
        await on_screen(pilot, SignInScreen)
        assert len(app.screen_stack) == 2  # the sign-in screen alone over the base: Tom's screens closed
        await until(pilot, lambda: app.screen.query("#name"))
        assert app.services is not None and app.services.record.staff.signed_in is None
        assert app.sub_title == "" and app.screen.query_one("#name", Input).value == ""
        await sign_in(pilot, "Tess")
        await ready(pilot)
        assert caseload(app) == ["Ben"]
        assert app.screen.sub_title.endswith(" · Tess, MT-BC, NMT")
        assert not any(isinstance(screen, ReviewScreen) for screen in app.screen_stack)


async def test_signing_out_is_refused_while_a_session_runs(staffed: Staffed) -> None:
    app = app_for(staffed.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "Tom")
        screen = await start_session(pilot)
        await pilot.press("ctrl+l")
        await until(pilot, lambda: told(app, "Not signed out: a session is running"))
        assert app.screen is screen and isinstance(screen, LiveSessionScreen)
        assert app.services is not None and app.services.record.staff.signed_in is not None
        assert app.services.record.staff.signed_in.name == "Tom"


async def test_a_supervisor_co_signs_a_finalised_note_from_the_note_editor(staffed: Staffed) -> None:
    session_id = finalised_note_by_tom(staffed)
    app = app_for(staffed.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        soap = await note_editor_as(pilot, "Sue")
        assert "Co-sign" in footer_keys(soap)
        await pilot.press("ctrl+g")
        final = soap.query_one(f"#final-{staffed.ava}", Static)
        await until(pilot, lambda: "Co-signed by Sue, MT-BC on " in str(final.render()))
        await pilot.press("ctrl+g")  # once only: the record says so
        await until(pilot, lambda: told(app, "co-signed already by Sue, MT-BC"))
    with staffed.open_as("Tom") as record:
        note = record.notes.note(session_id, staffed.ava)
    assert (note.signed_by, note.cosigned_by) == ("Tom, MT-BC", "Sue, MT-BC") and note.cosigned_at
    with staffed.open_as("Sue") as record:
        cosigned = [e for e in record.audit.entries() if e.action == "co-sign"]
    assert [(e.actor, e.target_id, e.client_id) for e in cosigned] == [
        ("Sue, MT-BC", f"{session_id}/{staffed.ava}", staffed.ava)
    ]


async def test_a_therapist_is_not_offered_the_co_signature(staffed: Staffed) -> None:
    session_id = finalised_note_by_tom(staffed)
    app = app_for(staffed.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        soap = await note_editor_as(pilot, "Tom")
        assert "Co-sign" not in footer_keys(soap)
        await pilot.press("ctrl+g")
        await pilot.press("question_mark")
        await on_screen(pilot, HelpScreen)
        assert "Co-sign" not in app.screen.listed and "Save" in app.screen.listed
    with staffed.open_as("Tom") as record:
        assert record.notes.note(session_id, staffed.ava).cosigned_by in ("", None)


async def test_a_draft_is_not_co_signed_and_its_unsaved_changes_keep_the_supervisor_signed_in(
    staffed: Staffed,
) -> None:
    with staffed.open_as("Tom") as record:
        session = record.sessions.start_session([staffed.ava], started_at=START)
        record.sessions.end_session(session.id, ended_at=START + timedelta(minutes=30))
    app = app_for(staffed.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        soap = await note_editor_as(pilot, "Sue")
        await pilot.press("ctrl+g")
        await until(pilot, lambda: told(app, "Only a finalised note is co-signed"))
        await pilot.press(*"seen in supervision")  # into Subjective, not saved yet
        await pilot.press("ctrl+l")
        await until(pilot, lambda: told(app, "Not signed out: the note has changes not saved"))
        assert app.screen is soap and soap.unsaved
        assert app.services is not None and app.services.record.staff.signed_in is not None


def test_the_services_open_a_practice_s_record_with_nobody_signed_in(staffed: Staffed) -> None:
    """The app's start: the record opens, and hands out no client until the sign-in screen signs in."""
    services = Services.open(staffed.data_dir, backup_every=None)
    try:
        assert services.record.staff.exist() and services.record.staff.signed_in is None
        with pytest.raises(SignInRequired, match="sign in first"):
            services.record.caseload.clients()
    finally:
        services.close()
