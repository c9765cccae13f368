"""Tablet mode in a real browser: headless Chromium (Debian's, via Playwright) against `companion serve`.

A tablet is emulated with touch input, so a tap travels the whole way: touch event -> xterm.js mouse
report -> websocket -> the tab's app process -> a committed row in the SQLite file on disk.
In CI (CI=true) a missing Chromium fails the run instead of skipping it.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from serve_support import Served, add_client, free_port, trials_logged
from yarl import URL

from companion.output_lock import OutputLock
from companion.record import Trial

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_PIECES = re.compile(
    r"\x1b\[(?P<row>\d+);(?P<col>\d+)H"  # cursor move
    r"|\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|[\r\n]"  # other escapes, line ends: no text
    r"|(?P<text>[^\x1b\r\n]+)"
)
TABLET = {"viewport": {"width": 1024, "height": 768}, "has_touch": True, "is_mobile": True}
COMPANION = str(Path(sys.executable).with_name("companion"))
SUPPORT = str(Path(__file__).with_name("serve_support.py"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (Debian package chromium; `make test` installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the browser test is required in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Tab:
    """One browser tab on the served app, keeping the terminal output the app sent it.

    The terminal is drawn on a canvas, so to tap a button the tab finds its label in the app's output
    instead (see `screen_lines`); the cell's centre on screen follows from the terminal's size in cells
    (sent with the websocket URL) and its size in pixels.
    """

    def __init__(self, browser: Any, url: str) -> None:
        self.page = browser.new_context(**TABLET).new_page()
        self.received: list[str] = []
        self.cells: tuple[int, int] | None = None
        self.page.on("websocket", self._watch)
        self.response = self.page.goto(url)

    def _watch(self, websocket: Any) -> None:
        query = URL(websocket.url).query
        self.cells = int(query["width"]), int(query["height"])
        websocket.on("framereceived", self._keep)

    def _keep(self, payload: str | bytes) -> None:
        if isinstance(payload, bytes):  # terminal output; text frames are the page's pings
            self.received.append(payload.decode("utf-8", "replace"))

    @property
    def screen_text(self) -> str:
        return "".join(self.received)

    def wait_for_screen(self, text: str, seconds: float = 30) -> None:
        """Wait until the app has sent `text` to this tab.

        Waiting through Playwright (not time.sleep) matters: the sync API only delivers websocket
        frames to our listener while one of its calls is running.
        """
        self.page.wait_for_selector("body.-first-byte canvas", state="attached", timeout=seconds * 1000)
        deadline = time.monotonic() + seconds
        while text not in self.screen_text:
            assert time.monotonic() < deadline, (
                f"{text!r} never reached the tab; it received: {self.screen_text[-800:]!r}"
            )
            self.page.wait_for_timeout(50)

    def cell_of(self, label: str) -> tuple[int, int]:
        """The (row, column), 1-based, of the top-most place `label` is on screen now."""
        assert self.cells is not None, "the tab has no terminal connection"
        lines = screen_lines(self.screen_text, *self.cells)
        for row, line in enumerate(lines, start=1):
            if (at := line.find(label)) >= 0:
                return row, at + 1
        raise AssertionError(f"{label!r} is not on screen:\n" + "\n".join(lines))

    def tap_label(self, label: str) -> None:
        """Touch the middle of `label` on the screen, as a finger on a tablet would (the top-most one:
        a button's label, not the same words in the key bar at the bottom)."""
        assert self.cells is not None, "the tab has no terminal connection"
        row, column = self.cell_of(label)
        screen = self.page.locator(".xterm-screen").bounding_box()
        assert screen is not None
        columns, rows = self.cells
        x = screen["x"] + (column - 1 + cell_len(label) / 2) * screen["width"] / columns
        y = screen["y"] + (row - 0.5) * screen["height"] / rows
        self.page.touchscreen.tap(x, y)

    def close(self) -> None:
        self.page.context.close()


def screen_lines(output: str, columns: int, rows: int) -> list[str]:
    """The text on screen after `output`, replayed the way Textual writes it: every run of text placed
    with an absolute cursor move (ESC[row;colH); colours and modes are ignored. One character per cell
    (a wide character's second cell holds NUL), so a position in a line is its column."""
    grid = [[" "] * columns for _ in range(rows)]
    row = column = 0
    for piece in _PIECES.finditer(output):
        if piece["row"]:
            row, column = int(piece["row"]) - 1, int(piece["col"]) - 1
        elif piece["text"]:
            for char in piece["text"]:
                width = cell_len(char)
                if 0 <= row < rows and 0 <= column < columns and width:
                    grid[row][column] = char
                    for filler in range(column + 1, min(column + width, columns)):
                        grid[row][filler] = "\0"
                column += width
    return ["".join(line) for line in grid]


def _wait_until(condition: Callable[[], bool], what: str | Callable[[], str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, (
            f"timed out waiting for {what if isinstance(what, str) else what()}"
        )
        time.sleep(0.05)


def test_a_tap_on_the_big_button_lands_in_the_database_and_a_second_tab_is_told_who_plays(
    browser: Any, tmp_path: Path
) -> None:
    add_client(tmp_path)
    served = Served([sys.executable, SUPPORT, "serve", str(free_port())], tmp_path)
    first = second = None
    try:
        with served.explaining_failures():
            first = Tab(browser, served.url)
            first.wait_for_screen("+ correct")
            first.tap_label("+ correct")
            _wait_until(lambda: len(trials_logged(tmp_path)) == 1, "the tap to be committed")
            owner = OutputLock.holder_of(tmp_path)
            assert owner is not None
            [trial] = trials_logged(tmp_path)
            assert trial.payload == Trial(correct=True, prompt_level="independent")

            second = Tab(browser, served.url)
            second.wait_for_screen("audio/MIDI are in use by the session started at")
            assert OutputLock.holder_of(tmp_path) == owner, "the first tab keeps the outputs"
            second.wait_for_screen("- incorrect")
            second.tap_label("- incorrect")
            _wait_until(lambda: len(trials_logged(tmp_path)) == 2, "the second tab's tap to be committed")
            first_trial, second_trial = trials_logged(tmp_path)
            assert second_trial.payload == Trial(correct=False, prompt_level="independent"), (
                "the tapped button"
            )
            assert first_trial.session_id != second_trial.session_id, "each tab logs into its own session"
    finally:
        for tab in (first, second):
            if tab is not None:
                tab.close()
        assert served.stop() == 0


def test_lan_mode_refuses_the_browser_without_the_token_and_runs_the_session_with_it(
    browser: Any, tmp_path: Path
) -> None:
    port = free_port()
    served = Served([COMPANION, "serve", "--host", "0.0.0.0", "--port", str(port)], tmp_path)
    token = URL(served.url).query["token"]
    tabs = []
    try:
        refused = Tab(browser, f"http://127.0.0.1:{port}/")
        tabs.append(refused)
        assert refused.response is not None and refused.response.status == 403
        assert "access token is needed" in refused.page.inner_text("body")

        admitted = Tab(browser, f"http://127.0.0.1:{port}/?token={token}")
        tabs.append(admitted)
        assert admitted.response is not None and admitted.response.status == 200
        served.wait_for_output("session opened in a browser tab on this computer (1 open)")
    finally:
        for tab in tabs:
            tab.close()
        assert served.stop() == 0
