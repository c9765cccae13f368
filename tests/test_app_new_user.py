"""What a therapist new to Companion tripped over in the app (issue 14), each kept fixed here: a session
left open by a closed browser tab, the metronome settings on a small screen, the preset message while
playing, the plans browser's hints and empty search, and the goals a suggestion serves."""

from __future__ import annotations

import re
from datetime import date

import pytest
from support.pilot import SIZE, app_for, log_lines, notices, on_screen, ready, settled, start_session, until
from support.practice import Practice
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import Button, OptionList

from companion.app.screens.dialogs import Confirm
from companion.app.screens.metronome_settings import MetronomeSettings
from companion.app.screens.note_editor import SoapScreen
from companion.app.screens.plans import PlansScreen
from companion.app.screens.session.screen import LiveSessionScreen
from companion.app.screens.today import TodayScreen
from companion.app.widgets.beat_light import BeatLight
from companion.app.widgets.plan_view import PlanView
from companion.live.overview import client_overview
from companion.record import MasteryCriterion
from interventions import Library, Suggestion
from interventions.suggest import GoalServed


def shown_text(widget: PlanView) -> str:
    """Everything a plan view shows, as plain text."""
    return "\n".join(str(static.render()) for static in widget.query("Static"))


async def test_the_next_visit_says_a_session_left_open_is_still_open_and_offers_to_resume_and_end_it(
    practice: Practice,
) -> None:
    async with app_for(practice.data_dir).run_test(size=SIZE) as pilot:
        screen = await start_session(pilot, "down", "s")  # Ben, who is not the first client listed
        opening = len(log_lines(pilot.app))
        await pilot.press("plus")
        await until(pilot, lambda: len(log_lines(pilot.app)) == opening + 1)
        session_id = screen.live.session.id
    # The browser tab was closed: its app quit, the session was not ended. The next visit says so first.
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        today = app.screen
        assert isinstance(today, TodayScreen)
        client = today.highlighted_client
        assert client is not None and client.id == practice.ben
        await until(pilot, lambda: "is still open" in str(today.query_one("#open-session").render()))
        assert "resume it or end it" in str(today.query_one("#open-session").render())
        await pilot.press("s")
        await on_screen(pilot, Confirm)
        await pilot.press("enter")
        await on_screen(pilot, LiveSessionScreen)
        await pilot.press("e")
        await on_screen(pilot, Confirm)
        await pilot.press("enter")
        await on_screen(pilot, SoapScreen)
    with practice.open() as record:
        assert record.sessions.session(session_id).ended_at is not None


@pytest.mark.parametrize("size", [(120, 36), (80, 24)], ids=["120x36", "80x24"])
async def test_the_metronome_settings_apply_and_cancel_are_on_screen(practice: Practice, size: tuple) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=size) as pilot:
        await start_session(pilot)
        await pilot.press("m")
        await on_screen(pilot, MetronomeSettings)
        await settled(pilot)
        dialog = app.screen
        screen_region = Region(0, 0, *size)
        for button_id in ("accept", "cancel"):
            placed = dialog.find_widget(dialog.query_one(f"#{button_id}", Button))
            region = placed.region
            assert region.area > 0, f"{button_id} is not shown at {size}"
            assert screen_region.contains_region(region), f"{button_id} at {region} is off a {size} screen"
            assert placed.visible_region == region, f"{button_id} is cut off by the dialog at {size}"
        await pilot.click("#cancel")
        await on_screen(pilot, LiveSessionScreen)


async def test_loading_the_preset_while_the_metronome_plays_does_not_say_space_starts(
    practice: Practice,
) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await start_session(pilot, "down", "s")  # Ben: his opening plan has a tempo preset
        await pilot.press("space")
        light = screen.query_one(BeatLight)
        await until(pilot, lambda: light.shown >= 2)
        await pilot.press("p")
        await until(pilot, lambda: any(n.startswith("Loaded ") for n in notices(app)))
        loaded = [n for n in notices(app) if n.startswith("Loaded ")][-1]
        assert app.metronome.running
        assert "Space starts" not in loaded, loaded
        await pilot.press("space")
        await until(pilot, lambda: not app.metronome.running)
        await pilot.press("p")
        await until(pilot, lambda: [n for n in notices(app) if n.startswith("Loaded ")][-1] != loaded)
        assert [n for n in notices(app) if n.startswith("Loaded ")][-1].endswith("Space starts.")


async def opened_plans(pilot: Pilot[None]) -> PlansScreen:
    """The plans browser, opened from Today with `p`."""
    await ready(pilot)
    await pilot.press("p")
    plans = await on_screen(pilot, PlansScreen)
    return plans


async def test_the_plans_browser_hints_only_at_keys_it_has_and_an_empty_search_clears_the_plan(
    practice: Practice,
) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        plans = await opened_plans(pilot)
        view = plans.query_one(PlanView)
        await pilot.press("slash", *"gait")
        await until(pilot, lambda: view.plan is not None and view.plan.tempo is not None)
        text = shown_text(view)
        assert "(p loads it)" not in text and "in the session, p loads it" in text
        await pilot.press(*(["backspace"] * len("gait")), *"xylophonic zeppelin")
        await until(pilot, lambda: view.plan is None)
        assert plans.shown == []
        assert "No plan matches “xylophonic zeppelin”" in shown_text(view)
        await pilot.press(*(["backspace"] * len("xylophonic zeppelin")))
        await until(pilot, lambda: view.plan is not None)


async def test_a_plans_contraindications_are_shown_apart_from_its_precautions(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        plans = await opened_plans(pilot)
        view = plans.query_one(PlanView)
        await pilot.press("slash", *"melodic intonation")
        await until(pilot, lambda: view.plan is not None and view.plan.id == "mit-phrase-production")
        assert view.plan is not None and view.plan.contraindications
        text = shown_text(view)
        assert "Contraindications: do not use when" in text
        assert text.index("Contraindications") < text.index(view.plan.contraindications[0][:30])


async def test_today_counts_the_goals_a_suggestion_serves_not_the_objectives(practice: Practice) -> None:
    with practice.open() as record:
        play = next(goal for goal in record.caseload.goals(practice.ava) if goal.domain == "social")
        for text in ("Shares the drum with a peer", "Waits for a turn on the drum"):
            record.caseload.add_objective(play.id, text, MasteryCriterion("count", 6, 3))
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        listing = app.screen.query_one("#suggestions", OptionList)
        await until(pilot, lambda: listing.option_count > 0)
        lines = [str(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]
    # Ava has two goals (four objectives, three of them under "Reciprocal play").
    counts = [re.search(r"serves (\d+) of (?:your )?(\d+) goals", line) for line in lines]
    assert [(int(m[1]), int(m[2])) for m in counts if m] and all(
        int(m[2]) == 2 and int(m[1]) <= 2 for m in counts if m
    ), lines


def test_a_suggestion_s_line_counts_goals_after_the_library_s_age_flag(practice: Practice) -> None:
    library = Library.load(None)
    with practice.open() as record:
        overview = client_overview(record, library, practice.ava, date(2025, 3, 4))
    plan = library.plans[0]
    both = (GoalServed(0, "serves communication"), GoalServed(1, "serves social"))
    flagged = Suggestion(plan, 1.0, ("outside the usual age range: ages 10+, client 8",), both, outside_age=2)
    assert overview.reason(flagged) == "outside the usual age range: ages 10+, client 8; serves 2 of 2 goals"
    one = Suggestion(plan, 1.0, ('goal 2 "Takes turns on the drum": serves social',), both[1:])
    assert overview.reason(one) == "serves social"
