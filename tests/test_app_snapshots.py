"""Snapshots of the main screens at 80x24 (a plain terminal) and 160x48 (a large tablet in the browser).

Deterministic by construction: a fixed clock and time zone, the seeded practice, a session whose events
have fixed times, no metronome running and no blinking cursors. Update after a deliberate change with
`pytest tests/test_app_snapshots.py --snapshot-update` and review the SVGs in the diff.
"""

from __future__ import annotations

import pytest
from support.pilot import on_screen, ready, settled
from support.practice import Practice
from support.snapshots import SIZES, Steps, live_session, open_session, review, snapshot_app, soap, still
from textual.pilot import Pilot

from companion.app.screens.help import HelpScreen
from companion.app.screens.plans import PlansScreen

pytestmark = pytest.mark.usefixtures("utc")  # times of day in the pictures are UTC


async def today(pilot: Pilot[None]) -> None:
    await ready(pilot)
    await settled(pilot)


async def plans(pilot: Pilot[None]) -> None:
    await ready(pilot)
    await pilot.press("p")
    await on_screen(pilot, PlansScreen)
    await pilot.press("slash", *"drum")
    await pilot.press("escape")
    await settled(pilot)
    still(pilot.app)


async def progress(pilot: Pilot[None]) -> None:
    await review(pilot)
    await pilot.press("2")
    await settled(pilot)


async def help_keys(pilot: Pilot[None]) -> None:
    await live_session(pilot)
    await pilot.press("question_mark")
    await on_screen(pilot, HelpScreen)
    await settled(pilot)


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
