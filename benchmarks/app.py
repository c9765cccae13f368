"""App benchmarks: start to interactive, tap to visible, beat-light lag; prints one JSON object.

- start to interactive: a fresh Python process (imports included) until the Today screen shows the demo
  practice's clients *and* the first client's overview (target < 1 s); median of several launches;
- tap to visible: a key press ("+") until its log line is on screen after the next refresh, which
  includes the durable write (`record.events.log`, commit + fsync) on the writer thread; p50/p99/max;
- beat-light lag: the engine's scheduled time of each beat (when the click sounds) until the beat light
  shows it, measured in the message handler and after the following refresh, with and without the
  therapist tapping at the same time; p50/p99/max. The engine runs with no output (beat light only),
  so the figures are the UI's share of the lag, whatever the sound card.

Run: `.venv/bin/python benchmarks/app.py [--launches 5] [--taps 200] [--seconds 10]`. Runs headless
(Textual's test driver) at 160x48, on a temporary copy of the demo practice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SIZE = (160, 48)
TODAY = date(2025, 3, 4)
PAUSE_BETWEEN_TAPS_S = 0.1
"""A therapist taps a few times a second at most; each tap is measured from an idle screen."""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


def make_demo(directory: Path) -> None:
    from companion.demo.generate import generate_demo
    from companion.record import Record

    with Record.open(directory, backup_every=None) as record:
        generate_demo(record, today=TODAY, seed=2024)


# -- start to interactive (runs in a child process so imports count) -----------------------------------
CHILD = """
import asyncio, sys, time
from pathlib import Path
from companion.app import AppConfig, CompanionApp
from companion.app.screens.today import TodayScreen

async def main():
    app = CompanionApp(AppConfig(data_dir=Path(sys.argv[1]), backup_every=None, metronome_outputs="none"))
    first = None
    async with app.run_test(size=(160, 48)) as pilot:
        while True:
            screen = app.screen
            if first is None and isinstance(screen, TodayScreen):
                first = time.time()
            if isinstance(screen, TodayScreen) and screen.overview is not None:
                break
            await pilot.pause(0.005)
        print(first, time.time())

asyncio.run(main())
"""


def start_to_interactive(directory: Path, launches: int) -> dict[str, Any]:
    painted, ready = [], []
    for _ in range(launches):
        began = time.time()
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(directory)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.split()
        painted.append(float(out[0]) - began)
        ready.append(float(out[1]) - began)
    return {
        "launches": launches,
        "first_screen_s": round(statistics.median(painted), 3),
        "interactive_with_data_s": round(statistics.median(ready), 3),
        "max_interactive_s": round(max(ready), 3),
        "target_s": 1.0,
    }


# -- in-process measurements ----------------------------------------------------------------------------
async def open_session(pilot: Any) -> Any:
    from companion.app.screens.dialogs import Confirm
    from companion.app.screens.session.screen import LiveSessionScreen
    from companion.app.screens.start_session import StartSession
    from companion.app.screens.today import TodayScreen

    app = pilot.app
    while not (isinstance(app.screen, TodayScreen) and app.screen.overview is not None):
        await pilot.pause(0.01)
    await pilot.press("s")  # a new session, or resuming the one an earlier measurement left open
    while not isinstance(app.screen, StartSession | Confirm):
        await pilot.pause(0.01)
    await pilot.press("enter")
    while not isinstance(app.screen, LiveSessionScreen):
        await pilot.pause(0.01)
    return app.screen


def app_on(directory: Path) -> Any:
    from companion.app import AppConfig, CompanionApp, FixedClock

    return CompanionApp(
        AppConfig(
            data_dir=directory,
            clock=FixedClock(datetime(2025, 3, 4, 10, 30, tzinfo=UTC)),
            backup_every=None,
            metronome_outputs="none",
        )
    )


async def tap_to_visible(directory: Path, taps: int) -> dict[str, Any]:
    from companion.app.widgets.session_log import SessionLog
    from companion.live.session_controller import LiveSession

    shown: dict[str, float] = {}
    durable: list[float] = []
    original = SessionLog.show
    original_commit = LiveSession.commit

    def commit(self: LiveSession, draft: Any) -> Any:
        update = original_commit(self, draft)
        durable.append(time.perf_counter())
        return update

    def timed(self: SessionLog, entry: Any, text: str, who: str = "") -> Any:
        line = original(self, entry, text, who)
        if entry.id not in shown:  # after the log's next refresh: the line has been rendered
            self.call_after_refresh(lambda: shown.setdefault(entry.id, time.perf_counter()))
        return line

    SessionLog.show = timed  # type: ignore[method-assign]
    LiveSession.commit = commit  # type: ignore[method-assign]
    latencies, to_disk, disk_to_screen = [], [], []
    try:
        app = app_on(directory)
        async with app.run_test(size=SIZE) as pilot:
            screen = await open_session(pilot)
            await pilot.pause(0.2)
            for _ in range(taps):
                await pilot.pause(PAUSE_BETWEEN_TAPS_S)
                before = len(shown)
                pressed = time.perf_counter()
                await pilot.press("plus")
                while len(shown) == before:
                    await asyncio.sleep(0.0005)
                visible = max(shown.values())
                latencies.append(visible - pressed)
                to_disk.append(durable[-1] - pressed)
                disk_to_screen.append(visible - durable[-1])
            screen.writer.drain(5)
    finally:
        SessionLog.show = original  # type: ignore[method-assign]
        LiveSession.commit = original_commit  # type: ignore[method-assign]
    return {
        "key_to_line_on_screen": summary(latencies),
        "key_to_durable": summary(to_disk),
        "durable_to_line_on_screen": summary(disk_to_screen),
        "frame_ms": round(1000 / 60, 1),
    }


async def beat_light_lag(directory: Path, seconds: float, tapping: bool) -> dict[str, Any]:
    from companion.app.widgets.beat_light import Beat, BeatLight

    handled: list[float] = []
    painted: list[float] = []
    original = BeatLight.on_beat

    def timed(self: BeatLight, message: Beat) -> None:
        original(self, message)
        if message.event.sub == 0:
            handled.append(time.perf_counter() - message.event.time)
            self.call_after_refresh(lambda: painted.append(time.perf_counter() - message.event.time))

    BeatLight.on_beat = timed  # type: ignore[method-assign]
    try:
        app = app_on(directory)
        async with app.run_test(size=SIZE) as pilot:
            await open_session(pilot)
            app.metronome.set_bpm(120)
            await pilot.press("space")
            ends = time.perf_counter() + seconds
            while time.perf_counter() < ends:
                if tapping:
                    await pilot.press("plus")
                    await pilot.pause(0.15)
                else:
                    await pilot.pause(0.1)
            await pilot.press("space")
    finally:
        BeatLight.on_beat = original  # type: ignore[method-assign]
    return {"handler": summary(handled), "after_refresh": summary(painted)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--launches", type=int, default=5)
    parser.add_argument("--taps", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="companion-bench-") as folder:
        directory = Path(folder)
        make_demo(directory)
        result = {
            "start_to_interactive": start_to_interactive(directory, args.launches),
            "tap_to_visible": asyncio.run(tap_to_visible(directory, args.taps)),
            "beat_light_lag_idle": asyncio.run(beat_light_lag(directory, args.seconds, tapping=False)),
            "beat_light_lag_while_tapping": asyncio.run(
                beat_light_lag(directory, args.seconds, tapping=True)
            ),
            "terminal_size": list(SIZE),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
