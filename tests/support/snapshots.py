"""The snapshot tests' fixed set-up and the steps that bring the app to a screen before its picture.

Deterministic by construction: a fixed clock, the seeded practice, Ava's session of today left open with
events at fixed times, no metronome running and no blinking cursors (the time zone is the `utc` fixture's).
Each step waits until what the picture shows has arrived, never for a fixed time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from companion.app import CompanionApp, FixedClock
from companion.app.screens.dialogs import Confirm
from companion.app.screens.note_editor import SoapScreen
from companion.app.screens.review import ReviewScreen
from companion.app.screens.session.screen import LiveSessionScreen
from companion.record import Count, EventDraft, Intervention, Note, Tempo, Trial
from support.pilot import app_for, log_lines, on_screen, ready, settled, until
from support.practice import NOW, Practice

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
SESSION_MINUTES = 12

Steps = Callable[[Pilot[None]], Awaitable[None]]


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


def still(app: App[Any]) -> None:
    """No blinking cursors in a snapshot."""
    for widget in app.screen.query("Input, TextArea"):
        assert isinstance(widget, Input | TextArea)
        widget.cursor_blink = False


def snapshot_app(practice: Practice) -> CompanionApp:
    return app_for(practice.data_dir, clock=FixedClock(NOW + timedelta(minutes=SESSION_MINUTES)))


async def live_session(pilot: Pilot[None]) -> None:
    await ready(pilot)
    await pilot.press("s")
    await on_screen(pilot, Confirm)
    await pilot.press("enter")
    await on_screen(pilot, LiveSessionScreen)
    await until(pilot, lambda: len(log_lines(pilot.app)) == 8)
    await settled(pilot)


async def review(pilot: Pilot[None]) -> None:
    await ready(pilot)
    await pilot.press("r")
    await on_screen(pilot, ReviewScreen)
    await until(pilot, lambda: "Events (" in str(pilot.app.screen.query_one("#session-detail").render()))
    await settled(pilot)


async def soap(pilot: Pilot[None]) -> None:
    await review(pilot)
    await pilot.press("n")
    await on_screen(pilot, SoapScreen)
    await until(pilot, lambda: pilot.app.screen.query(TextArea))
    await settled(pilot)
    still(pilot.app)
