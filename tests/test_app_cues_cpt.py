"""Billing codes and signing on the SOAP screen: codes typed after the session, checked, saved in the record,
shown in exports; finalising signs the note, asking once who signs."""

from __future__ import annotations

import pytest
from support.pilot import app_for, on_screen, until, until_notified
from support.practice import Practice
from support.snapshots import soap as open_note
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static, TextArea

from companion.app.screens.dialogs import Confirm, FieldsPrompt, Pick
from companion.app.screens.note_editor import SoapScreen
from companion.app.screens.review import ReviewScreen
from companion.paths import exports_dir
from companion.record.billing import parse_billing_codes


def test_codes_are_parsed_in_order_once_and_a_wrong_one_is_named() -> None:
    assert parse_billing_codes("97110, 97530-gp;97110  0591T") == ("97110", "97530-GP", "0591T")
    assert parse_billing_codes("  ") == ()
    with pytest.raises(ValueError, match=r"'9753' is not a billing code: use a CPT code \(five characters"):
        parse_billing_codes("97110, 9753")


async def opened_note(pilot: Pilot[None]) -> SoapScreen:
    """The last past session's note, opened from the review."""
    await open_note(pilot)
    soap = pilot.app.screen
    assert isinstance(soap, SoapScreen)
    return soap


async def type_codes(pilot: Pilot[None], soap: SoapScreen, text: str) -> None:
    field = soap.query_one("#cpt", Input)
    field.value = ""
    field.focus()
    await pilot.press(*text)


async def test_codes_typed_on_the_note_are_saved_and_exported(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        soap = await opened_note(pilot)  # the last past session's note, from the review
        session_id = soap.session_id
        await type_codes(pilot, soap, "97110, 9753")
        await pilot.press("escape")  # leaving with a wrong code: it says why and stays, the text kept
        await until_notified(pilot, app, "'9753' is not a billing code")
        assert isinstance(app.screen, SoapScreen) and soap.query_one("#cpt", Input).value == "97110, 9753"
        await type_codes(pilot, soap, "97110 97530-gp")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not soap.unsaved)
        assert soap.query_one("#cpt", Input).value == "97110, 97530-GP"
        assert "CPT 97110, 97530-GP" in str(soap.query_one("#note-header", Static).render())
        await pilot.press("ctrl+o")
        await on_screen(pilot, Pick)
        await pilot.press("1")  # Markdown
        await on_screen(pilot, SoapScreen)
        await until_notified(pilot, app, "Exported to")
        await pilot.press("escape")
        await on_screen(pilot, ReviewScreen)
    with practice.open() as record:
        assert record.sessions.session(session_id).cpt_codes == ("97110", "97530-GP")
    (exported,) = exports_dir(practice.data_dir).glob(f"session-{session_id}-*.md")
    assert "CPT 97110, 97530-GP" in exported.read_text()


async def test_finalising_asks_who_signs_once_and_signs_the_note(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        soap = await opened_note(pilot)
        session_id, client_id = soap.session_id, soap.drafts[0].client.id
        await pilot.press("ctrl+f")
        await on_screen(pilot, Confirm)
        await pilot.press("enter")
        await on_screen(pilot, FieldsPrompt)  # nobody signs in this record yet
        await pilot.press(*"Jordan Rivera", "enter", *"MT-BC", "enter")
        await on_screen(pilot, SoapScreen)
        await until_notified(pilot, app, "Note finalised.")
    with practice.open() as record:
        note = record.notes.note(session_id, client_id)
        assert record.notes.therapist().signature == "Jordan Rivera, MT-BC"
    assert note.finalised and note.signed_by == "Jordan Rivera, MT-BC" and note.signed_at is not None


async def test_focusing_the_codes_keeps_them_and_timed_minutes_can_be_typed(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        soap = await opened_note(pilot)
        await type_codes(pilot, soap, "97530-gp:30")
        field = soap.query_one("#cpt", Input)
        soap.query_one(f"#subjective-{soap.drafts[0].client.id}").focus()
        await pilot.pause()
        field.focus()  # coming back: the codes are not selected, so the next key adds to them
        await pilot.pause()
        await pilot.press(*", 97112-gp:15")
        assert field.value == "97530-gp:30, 97112-gp:15"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not soap.unsaved)
        assert field.value == "97530-GP:30, 97112-GP:15"


async def test_tab_goes_from_the_first_field_through_every_field_and_nothing_invisible(
    practice: Practice,
) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        soap = await opened_note(pilot)
        client_id = soap.drafts[0].client.id
        fields = (
            "subjective",
            "home-practice",
            "home-report",
            "objective",
            "observations",
            "assessment",
            "plan",
        )
        cycle = [*(f"{field}-{client_id}" for field in fields), "cpt", "present", "modality"]
        visited = [app.focused.id if app.focused else None]
        for _ in cycle:
            await pilot.press("tab")
            visited.append(app.focused.id if app.focused else None)
        assert visited == [*cycle, cycle[0]]


async def test_observations_home_practice_who_was_present_and_telehealth_are_saved_from_the_note(
    practice: Practice,
) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        soap = await opened_note(pilot)
        session_id, client_id = soap.session_id, soap.drafts[0].client.id
        soap.query_one(f"#observations-{client_id}").focus()
        await pilot.press(*"Sang the hello song unprompted.")
        soap.query_one("#present", Input).focus()
        await pilot.press(*"mother; OT co-treating")
        soap.query_one("#modality", Select).value = "telehealth video"
        soap.query_one(f"#home-practice-{client_id}", Select).value = "partly"
        soap.query_one(f"#home-report-{client_id}", Input).focus()
        await pilot.press(*"sang it at bedtime")
        assert soap.unsaved
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not soap.unsaved)
        await pilot.press("escape")
        await on_screen(pilot, ReviewScreen)
        await pilot.press("n")  # opened again: redrafted from the data, with everything typed kept
        again = await on_screen(pilot, SoapScreen)
        await until(pilot, lambda: again.query(f"#observations-{client_id}"))
        assert (
            again.query_one(f"#observations-{client_id}", TextArea).text == "Sang the hello song unprompted."
        )
        assert again.query_one("#present", Input).value == "mother; OT co-treating"
        assert again.query_one("#modality", Select).value == "telehealth video"
        assert again.query_one(f"#home-practice-{client_id}", Select).value == "partly"
        assert again.query_one(f"#home-report-{client_id}", Input).value == "sang it at bedtime"
    with practice.open() as record:
        session = record.sessions.session(session_id)
        assert (session.present, session.modality) == ("mother; OT co-treating", "telehealth video")
        note = record.notes.note(session_id, client_id)
        assert note.observations == "Sang the hello song unprompted."
        assert (note.home_practice, note.home_report) == ("partly", "sang it at bedtime")
