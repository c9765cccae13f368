"""Snapshots of the sign-in screen of a practice with staff, at 80x24 and 160x48: as it opens, and after a
failed sign-in (the record's one message, the name kept, the password cleared).

Deterministic by construction: the staffed practice (`support.staffed`), a fixed clock and time zone, no
blinking cursors, and each picture taken once the sign-in worker has finished. Update after a deliberate
change with `pytest tests/test_app_sign_in_snapshots.py --snapshot-update` and review the SVGs in the diff.
"""

from __future__ import annotations

import pytest
from support.pilot import app_for, on_screen, settled, sign_in, sign_in_message, until
from support.snapshots import SIZES, Steps, still
from support.staffed import Staffed
from textual.pilot import Pilot

from companion.app.screens.sign_in import SignInScreen
from companion.record.staff import SIGN_IN_FAILED

pytestmark = pytest.mark.usefixtures("utc")


async def opened(pilot: Pilot[None]) -> None:
    screen = await on_screen(pilot, SignInScreen)
    await until(pilot, lambda: screen.query("#name") and screen.query_one("#name").has_focus)
    await settled(pilot)
    still(pilot.app)


async def failed(pilot: Pilot[None]) -> None:
    await sign_in(pilot, "Tom", "not the password")
    await until(pilot, lambda: sign_in_message(pilot.app) == SIGN_IN_FAILED)
    await settled(pilot)
    still(pilot.app)


STATES: dict[str, Steps] = {"opened": opened, "failed": failed}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("state", list(STATES))
def test_sign_in_screen(snap_compare, staffed: Staffed, state: str, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(staffed.data_dir), terminal_size=size, run_before=STATES[state])
