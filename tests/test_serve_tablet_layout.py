"""The app on a tablet: what a finger must be able to hit, checked at the sizes a tablet gives the app.

A 1024x768 tablet in landscape shows 113x36 cells at the served page's default font size (16 px) and
128x40 at `--font-size 14`, as measured in Chromium; 120 columns is where the layout changes.
Hittable means: a touch anywhere on the label (what the therapist aims at) reaches the button itself.
"""

from __future__ import annotations

import pytest
from support.pilot import app_for, on_screen, ready, settled
from support.practice import Practice
from textual.screen import Screen
from textual.widgets import Button

from companion.app.screens.session.screen import LiveSessionScreen
from companion.app.screens.start_session import StartSession
from companion.app.widgets.tap_pad import TapButton

TABLET_SIZES = [(113, 36), (120, 36), (128, 40), (160, 48)]


def assert_hittable(screen: Screen[object], button: Button, min_rows: int = 3) -> None:
    """A touch anywhere on the button's label row reaches it, and it is tall enough for a finger."""
    region = button.region
    assert region.height >= min_rows, f"{button.label} is {region.height} rows tall"
    label_row = button.content_region.y + button.content_region.height // 2
    for x in range(button.content_region.x, button.content_region.right):
        hit, _ = screen.get_widget_at(x, label_row)
        assert hit is button, f"a touch on {button.label} at ({x}, {label_row}) reaches {hit}"


@pytest.mark.parametrize("size", TABLET_SIZES, ids=lambda size: "x".join(map(str, size)))
async def test_a_finger_can_hit_the_start_dialogs_buttons_and_every_quick_tap_button(
    fresh_practice: Practice, size: tuple[int, int]
) -> None:
    app = app_for(fresh_practice.data_dir)
    async with app.run_test(size=size) as pilot:
        await ready(pilot)
        await pilot.press("s")
        await on_screen(pilot, StartSession)
        await settled(pilot)
        dialog = app.screen
        buttons = list(dialog.query(Button))
        assert [str(b.label) for b in buttons] == ["Start session (Enter)", "Cancel"]
        for button in buttons:
            assert_hittable(dialog, button)

        await pilot.press("enter")
        await on_screen(pilot, LiveSessionScreen)
        await settled(pilot)
        pad = list(app.screen.query(TapButton))
        assert len(pad) >= 10  # correct, incorrect, the prompt levels, count, time, latency, rate, note, undo
        for button in pad:
            assert_hittable(app.screen, button)
