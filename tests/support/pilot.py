"""Driving the app under Textual's pilot: the app on a data folder, waiting on a condition, reaching a
screen, and reading what the screens show (the live log, notifications).

Waits are on conditions (`until`), never fixed pauses: the app writes on a writer thread and loads in
workers, so how long a step takes depends on the machine; the condition does not.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, Static

from companion.app import AppConfig, CompanionApp, FixedClock
from companion.app.screens.cue_picker import CuePicker
from companion.app.screens.plans import PlansScreen
from companion.app.screens.session.screen import LiveSessionScreen
from companion.app.screens.sign_in import SignInScreen
from companion.app.screens.start_session import StartSession
from companion.app.screens.today import TodayScreen
from companion.app.widgets.session_log import SessionLog, Shown
from support.practice import NOW
from support.staffed import PASSWORD

S = TypeVar("S", bound=Screen[Any])

SIZE = (100, 32)
STEP_S = 0.02
"""How often `until` looks again: short enough to add no noticeable time, long enough to let work run."""


def app_for(data_dir: Path, **changes: Any) -> CompanionApp:
    """The app on `data_dir` with a fixed clock, no backups and a silent metronome (beat light only)."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "clock": FixedClock(NOW),
        "backup_every": None,
        "metronome_outputs": "none",
    }
    return CompanionApp(AppConfig(**{**values, **changes}))


async def until(pilot: Pilot[None], condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Let the app run, in short steps, until `condition()` holds (writes happen on the writer thread,
    loading in workers); fail naming the condition's source line if it does not within `timeout` s."""
    for _ in range(int(timeout / STEP_S)):
        if condition():
            return
        await pilot.pause(STEP_S)
    code = getattr(condition, "__code__", None)
    where = f" ({Path(code.co_filename).name}:{code.co_firstlineno})" if code is not None else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {condition.__qualname__}{where}")


async def settled(pilot: Pilot[None]) -> None:
    """Every worker the app started has finished and what they delivered is on screen, with no
    animation left to run: the app is idle until the next key."""
    while True:
        await pilot.app.workers.wait_for_complete()
        await pilot.wait_for_scheduled_animations()
        if all(worker.is_finished for worker in pilot.app.workers):  # none started by what arrived
            return


async def on_screen(pilot: Pilot[None], kind: type[S]) -> S:
    """The app's screen once it is a `kind` (typed, so a test needs no isinstance check of its own)."""
    await until(pilot, lambda: isinstance(pilot.app.screen, kind))
    screen = pilot.app.screen
    assert isinstance(screen, kind)
    return screen


async def ready(pilot: Pilot[None]) -> None:
    """The Today screen has its clients and the first one's overview (both load in workers)."""
    screen = pilot.app.screen
    await until(pilot, lambda: isinstance(screen, TodayScreen) and screen.overview is not None)


async def start_session(pilot: Pilot[None], *choose: str) -> LiveSessionScreen:
    """From Today: the keys that choose the client(s) and press `s` (default: the first client), then
    Enter in the start dialog; returns the live session screen."""
    await ready(pilot)
    await pilot.press(*(choose or ("s",)))
    await on_screen(pilot, StartSession)
    await pilot.press("enter")
    screen = await on_screen(pilot, LiveSessionScreen)
    return screen


async def switch_plan(pilot: Pilot[None], screen: LiveSessionScreen, search: str, plan_id: str) -> None:
    """From the session screen: open the plans (i), search, choose the first match, and wait until the
    session runs `plan_id`."""
    await pilot.press("i")
    await on_screen(pilot, PlansScreen)
    await pilot.press("slash", *search, "escape", "enter")
    await on_screen(pilot, LiveSessionScreen)
    await until(pilot, lambda: screen.live.plan is not None and screen.live.plan.id == plan_id)


async def pick(pilot: Pilot[None], label_start: str) -> None:
    """Open the cue picker and choose the line starting with `label_start`."""
    await pilot.press("K")
    picker = await on_screen(pilot, CuePicker)
    index = next(n for n, (label, _) in enumerate(picker.choices) if label.startswith(label_start))
    await pilot.press(str(index + 1))
    await on_screen(pilot, LiveSessionScreen)


def log_lines(app: App[Any]) -> list[Shown]:
    """The live log's entries, newest first (empty when the session screen is not showing)."""
    found = app.screen.query(SessionLog)
    return found.first(SessionLog).shown() if found else []


def notices(app: CompanionApp) -> list[str]:
    """The messages of the notifications shown so far, oldest first."""
    return [n.message for n in app._notifications]


async def until_notified(pilot: Pilot[None], app: CompanionApp, text: str, timeout: float = 10.0) -> None:
    """Wait until a notification containing `text` has been shown. A worker's notice is posted after the
    state it reports has changed, so waiting on that state alone does not mean the notice is there yet."""
    await until(pilot, lambda: any(text in message for message in notices(app)), timeout)


async def sign_in(pilot: Pilot[None], name: str, password: str = PASSWORD) -> None:
    """On the sign-in screen: the name (if the field is empty), Enter, the password, Enter."""
    screen = await on_screen(pilot, SignInScreen)
    await until(pilot, lambda: screen.query("#password"))
    if not screen.query_one("#name", Input).value:
        await pilot.press(*name, "enter")
    await until(pilot, lambda: screen.query_one("#password", Input).has_focus)
    await pilot.press(*password, "enter")


def sign_in_message(app: App[Any]) -> str:
    """What the sign-in screen says under the password (a failure's one message)."""
    return str(app.screen.query_one("#sign-in-message", Static).render())
