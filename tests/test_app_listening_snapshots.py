"""Snapshots of the session screen with the live feedback strip at 80x24 and 160x48.

The strip is given a fixed view (hits, a saved block, adaptive tempo on) so the picture never depends on
timing; what the view holds during real listening is tested on JACK (test_app_listening_jack.py). Update
after a deliberate change with `pytest tests/test_app_listening_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import pytest
from support.pilot import settled
from support.practice import Practice
from support.snapshots import SIZES, live_session, open_session, snapshot_app
from textual.pilot import Pilot

from companion.app.widgets.sync_strip import SyncStrip
from companion.live.listening_control import Mark, StripView

VIEW = StripView(
    visible=True,
    listening=True,
    marks=(
        *(Mark(ms, abs(ms) <= 50, False) for ms in (-32.0, 18.0, -61.0, 4.0)),
        Mark(140.0, False, True),
        Mark(-12.0, True, False),
    ),
    window_ms=50.0,
    span_ms=150.0,
    headline="app-drum:out · block 3 · 37 hits · 83% on beat · window ±50 ms",
    last_hit="last hit 12 ms early (on beat)",
    last_block="block 2 (16 beats at 84.0 bpm): 13/16 on the beat (81.2%), mean -14.0 ms: saved",
    adaptive="adaptive entrain 60-100 bpm (+5% at R ≥ 0.9) · set 84.0 bpm · holding 84.0 bpm: R 0.82",
    problem="",
)

pytestmark = pytest.mark.usefixtures("utc")  # times of day in the pictures are UTC


async def listening(pilot: Pilot[None]) -> None:
    await live_session(pilot)
    pilot.app.screen.query_one(SyncStrip).show(VIEW)
    await settled(pilot)


@pytest.mark.parametrize("size", SIZES)
def test_session_screen_with_the_strip(snap_compare, practice: Practice, size: tuple[int, int]) -> None:
    open_session(practice)
    assert snap_compare(snapshot_app(practice), terminal_size=size, run_before=listening)
