"""Snapshots of the cue picker and of the session screen with a song cue, at 80x24 and 160x48.

Same set-up as tests/test_app_snapshots.py (fixed clock and time zone, the seeded practice, Ava's open
session, no metronome running). Ava's preferred song is the shipped Twinkle, so every label is fixed.
Update after a deliberate change with `pytest tests/test_app_cues_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import pytest
from support.pilot import on_screen, pick, settled
from support.practice import TWINKLE, Practice
from support.snapshots import SIZES, Steps, live_session, open_session, snapshot_app
from textual.pilot import Pilot

from companion.app.screens.cue_picker import CuePicker
from companion.app.screens.dialogs import TextPrompt
from companion.app.screens.session.screen import LiveSessionScreen

pytestmark = pytest.mark.usefixtures("utc")  # times of day in the pictures are UTC


async def picker(pilot: Pilot[None]) -> None:
    await live_session(pilot)
    await pilot.press("K")
    await on_screen(pilot, CuePicker)
    await settled(pilot)


async def song_cue(pilot: Pilot[None]) -> None:
    """Twinkle chosen, to start at bar 5, bar A of a loop marked there: the panel says all of it."""
    await live_session(pilot)
    await pick(pilot, "* Twinkle")
    await pilot.press("j")
    await on_screen(pilot, TextPrompt)
    await pilot.press("5", "enter")
    await on_screen(pilot, LiveSessionScreen)
    await pilot.press("L")
    pilot.app.clear_notifications()
    await settled(pilot)


SCREENS: dict[str, Steps] = {"cue_picker": picker, "song_cue": song_cue}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", list(SCREENS))
def test_cue_screen(snap_compare, practice: Practice, screen: str, size: tuple[int, int]) -> None:
    open_session(practice)
    with practice.open() as record:
        record.caseload.update_client(practice.ava, preferred_songs=(str(TWINKLE),))
    assert snap_compare(snapshot_app(practice), terminal_size=size, run_before=SCREENS[screen])
