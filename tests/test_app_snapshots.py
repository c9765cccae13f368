"""Snapshots of the main screens at 80x24 (a plain terminal) and 160x48 (a large tablet in the browser).

Deterministic by construction: a fixed clock and time zone, the seeded practice, a session whose events
have fixed times, no metronome running and no blinking cursors. Update after a deliberate change with
`pytest tests/test_app_snapshots.py --snapshot-update` and review the SVGs in the diff.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
from test_app_pilot import app_for, log_lines, on_screen, ready, until
from test_app_practice import NOW, Practice, make_practice
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from companion.app import CompanionApp, FixedClock
from companion.app.screens.dialogs import Confirm
from companion.app.screens.help import HelpScreen
from companion.app.screens.plans import PlansScreen
from companion.app.screens.review import ReviewScreen
from companion.app.screens.session import LiveSessionScreen
from companion.app.screens.soap import SoapScreen
from companion.record import Count, EventDraft, Intervention, Note, Tempo, Trial

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
SESSION_MINUTES = 12

Steps = Callable[[Pilot[None]], Awaitable[None]]


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


@pytest.fixture
def practice(tmp_path: Path) -> Practice:
    return make_practice(tmp_path / "data")


def open_session(practice: Practice) -> None:
    """Ava's session of today, 12 minutes in, left open: the app resumes it."""
    with practice.open() as record:
        session = record.sessions.start_session([practice.ava], "in-home", started_at=NOW)
        at = [NOW + timedelta(seconds=30 * n) for n in range(12)]
        drafts = [
            EventDraft(Intervention("choice-making-instruments"), wall_time=at[0]),
            EventDraft(Tempo(84, "4/4"), wall_time=at[1]),
            *(
                EventDraft(Trial(correct, level), objective_id=practice.ava_requests, wall_time=when)
                for (correct, level), when in zip(
                    [(True, "independent"), (True, "verbal"), (False, "independent"), (True, "independent")],
                    at[2:6],
                    strict=True,
                )
            ),
            EventDraft(Count("turn initiation"), objective_id=practice.ava_turns, wall_time=at[6]),
            EventDraft(Note("asked for the big drum"), objective_id=practice.ava_requests, wall_time=at[7]),
        ]
        events = record.events.log_many(session.id, drafts)
        record.events.undo(events[4].id)


def still(app: CompanionApp) -> None:
    """No blinking cursors in a snapshot."""
    for widget in app.screen.query("Input, TextArea"):
        assert isinstance(widget, Input | TextArea)
        widget.cursor_blink = False


def snapshot_app(practice: Practice) -> CompanionApp:
    return app_for(practice.data_dir, clock=FixedClock(NOW + timedelta(minutes=SESSION_MINUTES)))


async def today(pilot: Pilot[None]) -> None:
    await ready(pilot)
    await pilot.pause(0.2)


async def live_session(pilot: Pilot[None]) -> None:
    await ready(pilot)
    await pilot.press("s")
    await on_screen(pilot, Confirm)
    await pilot.press("enter")
    await on_screen(pilot, LiveSessionScreen)
    await until(pilot, lambda: len(log_lines(pilot.app)) == 8)
    await pilot.pause(0.2)


async def plans(pilot: Pilot[None]) -> None:
    await ready(pilot)
    await pilot.press("p")
    await on_screen(pilot, PlansScreen)
    await pilot.press("slash", *"drum")
    await pilot.press("escape")
    await pilot.pause(0.3)
    still(pilot.app)


async def review(pilot: Pilot[None]) -> None:
    await ready(pilot)
    await pilot.press("r")
    await on_screen(pilot, ReviewScreen)
    await until(pilot, lambda: "Events (" in str(pilot.app.screen.query_one("#session-detail").render()))
    await pilot.pause(0.3)


async def progress(pilot: Pilot[None]) -> None:
    await review(pilot)
    await pilot.press("2")
    await pilot.pause(0.5)


async def soap(pilot: Pilot[None]) -> None:
    await review(pilot)
    await pilot.press("n")
    await on_screen(pilot, SoapScreen)
    await until(pilot, lambda: pilot.app.screen.query(TextArea))
    await pilot.pause(0.3)
    still(pilot.app)


async def help_keys(pilot: Pilot[None]) -> None:
    await live_session(pilot)
    await pilot.press("question_mark")
    await on_screen(pilot, HelpScreen)
    await pilot.pause(0.2)


SCREENS: dict[str, Steps] = {
    "today": today,
    "live_session": live_session,
    "plans": plans,
    "review": review,
    "progress": progress,
    "soap": soap,
    "help": help_keys,
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare, practice: Practice, screen: str, size: tuple[int, int]) -> None:
    open_session(practice)
    assert snap_compare(snapshot_app(practice), terminal_size=size, run_before=SCREENS[screen])
