"""Everything a user types is shown as typed: names, goals, objectives, notes and the notices about them.

Found by the hardening audit (issue 14): a client called "Sam [/]" crashed Review (MarkupError) and
"[@click=app.quit]" in a name was run as an action. Textual reads strings as markup by default (labels,
options, tab titles, data table cells, notifications), so every screen is walked here with markup typed
into every field a therapist fills, and what the screen shows must contain it literally."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from support.pilot import app_for, on_screen, ready, start_session, until
from support.practice import make_practice
from textual.pilot import Pilot
from textual.widgets import OptionList, TextArea

from companion.app import CompanionApp
from companion.app.screens.dialogs import TextPrompt
from companion.app.screens.note_editor import SoapScreen
from companion.app.screens.plans import PlansScreen
from companion.app.screens.review import ReviewScreen
from companion.app.screens.today import TodayScreen
from companion.paths import plans_dir
from companion.record import EventDraft, Note
from interventions.library import SHIPPED_DIR

TYPED = ["Al [/]", "[@click=app.quit]Quit[/]", "[b]Bo[/b] [red]", "[$accent]x[/] \\[y]"]


def shown(app: CompanionApp) -> str:
    """The text on the screen as the terminal shows it (the SVG screenshot's text, spaces restored)."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


async def notice_of(pilot: Pilot[None], text: str) -> None:
    """A notification with `text` is on screen (as typed, not as markup; `run_test(notifications=True)`)."""
    await until(pilot, lambda: text in shown(pilot.app))  # type: ignore[arg-type]


@pytest.mark.parametrize("typed", TYPED)
async def test_markup_typed_anywhere_is_shown_as_typed_on_every_screen(tmp_path: Path, typed: str) -> None:
    practice = make_practice(tmp_path / "data")
    with practice.open() as record:
        record.caseload.update_client(practice.ava, display_name=f"Ava {typed}", population=f"notes {typed}")
        goal = record.caseload.add_goal(practice.ava, "social", f"Goal {typed}")
        record.caseload.add_objective(goal.id, f"Objective {typed}")
        last = max(record.sessions.sessions(practice.ava), key=lambda s: s.started_at)
        record.events.log(last.id, EventDraft(Note(f"Note {typed}")))
    shipped = (SHIPPED_DIR / "calm-down-song-strategies.toml").read_text()  # a plan the user wrote
    mine = re.sub(r'(?m)^id = ".*"$', 'id = "my-calm-down-song"', shipped)
    mine = re.sub(r'(?m)^title = ".*"$', f"title = 'My song {typed}'", mine)
    mine = mine.replace('    "a squeeze ball or fidget",', f"    'a squeeze ball {typed}',")
    (plans_dir(practice.data_dir) / "my-calm-down-song.toml").write_text(mine)
    app = app_for(practice.data_dir)
    async with app.run_test(size=(160, 48), notifications=True) as pilot:
        await ready(pilot)
        assert isinstance(app.screen, TodayScreen)
        await until(pilot, lambda: f"Ava {typed}" in shown(app) and f"Objective {typed}" in shown(app))

        await pilot.press("r")  # Review: the sessions, the session's detail, progress, report
        await on_screen(pilot, ReviewScreen)
        await until(pilot, lambda: f"Ava {typed}" in shown(app))
        await until(pilot, lambda: f"Note {typed}" in shown(app))  # the newest session's events
        await pilot.press("2")
        await until(pilot, lambda: f"Objective {typed}" in shown(app))
        await pilot.press("1", "n")  # the last session's note: the client's name is its tab's title
        await on_screen(pilot, SoapScreen)
        await until(pilot, lambda: app.screen.query(TextArea))
        await until(pilot, lambda: f"Note {typed}" in shown(app))
        await pilot.press("escape")
        await on_screen(pilot, ReviewScreen)
        await pilot.press("escape")
        await on_screen(pilot, TodayScreen)

        await pilot.press("p")  # the plans: the user's own plan, in the list and in full
        plans = await on_screen(pilot, PlansScreen)
        await until(pilot, lambda: any(p.id == "my-calm-down-song" for p in plans.shown))
        plans.query_one("#plan-list", OptionList).highlighted = next(
            i for i, p in enumerate(plans.shown) if p.id == "my-calm-down-song"
        )
        await until(pilot, lambda: f"My song {typed}" in shown(app))
        await pilot.press("escape")
        await on_screen(pilot, TodayScreen)

        screen = await start_session(pilot)  # a live session: a note typed with markup, and its notices
        await until(pilot, lambda: f"Ava {typed}" in shown(app))
        await pilot.press("n")
        await on_screen(pilot, TextPrompt)
        await pilot.press(*f"said {typed}", "enter")
        await until(pilot, lambda: f"said {typed}" in shown(app))
        app.notify(f"Added Ava {typed}.")  # as the screens word their notices
        screen.notify(f"Objective added: {typed}", title=f"For {typed}")
        await notice_of(pilot, f"Added Ava {typed}.")
        await notice_of(pilot, f"Objective added: {typed}")
        assert app.is_running  # nothing typed was run as an action
