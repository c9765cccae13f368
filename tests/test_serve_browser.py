"""Tablet mode in a real browser: headless Chromium (Debian's, via Playwright) against `companion serve`.

A 1024x768 tablet is emulated with touch input, so a tap travels the whole way: touch event -> xterm.js
mouse report -> websocket -> the tab's app process (the real Companion app, as `companion serve` runs it)
-> a committed row in the SQLite file on disk. The therapist's touches are the ones the app offers for
touch: the client in the caseload, the dialog's start button, the quick-tap pad.
In CI (CI=true) a missing Chromium fails the run instead of skipping it.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from support.serving import Served, add_clients, free_port, trials_logged
from yarl import URL

from companion.output_lock import OutputLock
from companion.record import Record, Trial

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
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07)")
"""A whole escape sequence (CSI or OSC): anything shorter after the last ESC waits for the next frame."""
TABLET = {"viewport": {"width": 1024, "height": 768}, "has_touch": True, "is_mobile": True}
COMPANION = str(Path(sys.executable).with_name("companion"))
OPEN_WEBSOCKET = """url => new Promise(done => {
    const socket = new WebSocket(url);
    socket.onopen = () => { socket.close(); done("open"); };
    socket.onerror = () => done("refused");
})"""
"""Script for a page: open a websocket to `url` the way the served page does; "open" or "refused"."""
CORRECT, INCORRECT = "+ Correct", "− Incorrect"
PAD_BUTTON_COLUMNS, PAD_BUTTON_ROWS = 8, 3
"""The smallest quick-tap button, in cells (the app's stylesheet: min-width 8, at least 3 rows)."""
TOUCH_TARGET_PX = 44
"""The smallest comfortable touch target (Apple's and WCAG 2.5.5's 44 px)."""


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


class TerminalScreen:
    """The text on a tab's terminal, replayed from the app's output the way Textual writes it: every run
    of text placed with an absolute cursor move (ESC[row;colH); colours and modes are ignored.

    One character per cell (a wide character's second cell holds NUL), so a position in a line is its
    column. Output is fed in as it arrives; an escape sequence cut by a frame boundary waits for the rest.
    """

    def __init__(self, columns: int, rows: int) -> None:
        self.columns, self.rows = columns, rows
        self.grid = [[" "] * columns for _ in range(rows)]
        self.row = self.column = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._unparsed = ""

    def feed(self, payload: bytes) -> None:
        text = self._unparsed + self._decoder.decode(payload)
        cut = text.rfind("\x1b")
        if cut < 0 or _ESCAPE.match(text, cut):
            ready, self._unparsed = text, ""
        else:
            ready, self._unparsed = text[:cut], text[cut:]
        for piece in _PIECES.finditer(ready):
            if piece["row"]:
                self.row, self.column = int(piece["row"]) - 1, int(piece["col"]) - 1
            elif piece["text"]:
                self._write(piece["text"])

    def _write(self, text: str) -> None:
        for char in text:
            width = cell_len(char)
            if 0 <= self.row < self.rows and 0 <= self.column < self.columns and width:
                self.grid[self.row][self.column] = char
                for filler in range(self.column + 1, min(self.column + width, self.columns)):
                    self.grid[self.row][filler] = "\0"
            self.column += width

    @property
    def lines(self) -> list[str]:
        return ["".join(line) for line in self.grid]


class Tab:
    """One browser tab on the served app, with the terminal screen the app drew in it.

    The terminal is drawn on a canvas, so to tap a button the tab finds its label in the replayed screen
    instead; the cell's centre on the page follows from the terminal's size in cells (sent with the
    websocket URL) and its size in pixels.
    """

    def __init__(self, browser: Any, url: str) -> None:
        self.page = browser.new_context(**TABLET).new_page()
        self.screen: TerminalScreen | None = None
        self._frames: list[bytes | tuple[int, int]] = []  # output, or a new size in cells
        self.page.on("websocket", self._watch)
        self.response = self.page.goto(url)

    def _watch(self, websocket: Any) -> None:
        query = URL(websocket.url).query
        if "width" not in query:
            return  # not the terminal's (a test script's own websocket)
        self._frames.append((int(query["width"]), int(query["height"])))
        websocket.on("framereceived", self._keep)
        websocket.on("framesent", self._resized)

    def _keep(self, payload: str | bytes) -> None:
        if isinstance(payload, bytes):  # terminal output; text frames are the page's pings
            self._frames.append(payload)

    def _resized(self, payload: str | bytes) -> None:
        """The page fitted the terminal to the tab and told the app its size in cells."""
        message = json.loads(payload) if isinstance(payload, str) else None
        if isinstance(message, list) and message[0] == "resize":
            self._frames.append((message[1]["width"], message[1]["height"]))

    def lines(self) -> list[str]:
        """The screen now (after a resize, the app redraws it all on a new grid)."""
        frames, self._frames = self._frames, []
        for frame in frames:
            if isinstance(frame, tuple):
                self.screen = TerminalScreen(*frame)
            else:
                assert self.screen is not None
                self.screen.feed(frame)
        assert self.screen is not None, "the tab has no terminal connection"
        return self.screen.lines

    def wait_for_screen(self, text: str, seconds: float = 30) -> None:
        """Wait until `text` shows on one line of this tab's screen.

        Waiting through Playwright (not time.sleep) matters: the sync API only delivers websocket
        frames to our listener while one of its calls is running.
        """
        self.page.wait_for_selector("body.-first-byte canvas", state="attached", timeout=seconds * 1000)
        deadline = time.monotonic() + seconds
        while not any(text in line for line in self.lines()):
            assert time.monotonic() < deadline, f"{text!r} never showed; the screen:\n" + "\n".join(
                self.lines()
            )
            self.page.wait_for_timeout(50)

    def cell_of(self, label: str, below: str | None = None, bottom_up: bool = False) -> tuple[int, int]:
        """The (row, column), 1-based, of the top-most place `label` is on screen now (the bottom-most
        with `bottom_up`, e.g. in the key bar), only in rows under the line holding `below` if given."""
        lines = self.lines()
        first = 0 if below is None else next((n + 1 for n, line in enumerate(lines) if below in line), -1)
        assert first >= 0, f"{below!r} is not on screen:\n" + "\n".join(lines)
        rows = range(len(lines) - 1, first - 1, -1) if bottom_up else range(first, len(lines))
        for row in rows:
            if (at := lines[row].find(label)) >= 0:
                return row + 1, at + 1
        raise AssertionError(f"{label!r} is not on screen:\n" + "\n".join(lines))

    def cell_size(self) -> tuple[float, float]:
        """Width and height of one terminal cell, in CSS pixels."""
        self.lines()
        assert self.screen is not None, "the tab has no terminal connection"
        box = self.page.locator(".xterm-screen").bounding_box()
        assert box is not None
        return box["width"] / self.screen.columns, box["height"] / self.screen.rows

    def tap_label(self, label: str, rows_off: float = 0, **where: Any) -> None:
        """Touch `label` on the screen, as a finger on a tablet would: in its middle, or `rows_off` rows
        below it. Which one: see `cell_of` (by default the top-most: a button's label, not the same words
        in the key bar at the bottom)."""
        row, column = self.cell_of(label, **where)
        box = self.page.locator(".xterm-screen").bounding_box()
        assert box is not None
        width, height = self.cell_size()
        x = box["x"] + (column - 1 + cell_len(label) / 2) * width
        y = box["y"] + (row - 0.5 + rows_off) * height
        self.page.touchscreen.tap(x, y)

    def close(self) -> None:
        self.page.context.close()


def _wait_until(condition: Callable[[], bool], what: str | Callable[[], str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, (
            f"timed out waiting for {what if isinstance(what, str) else what()}"
        )
        time.sleep(0.05)


def start_session_by_touch(tab: Tab, client: str) -> None:
    """What a therapist touches: the client in the caseload, then the dialog's start button."""
    tab.wait_for_screen(client)
    tab.tap_label(client, below="Clients")
    tab.wait_for_screen("Start session (Enter)")
    tab.tap_label("Start session (Enter)")
    tab.wait_for_screen(CORRECT)


def test_a_session_on_a_tablet_logs_touched_trials_and_a_second_tab_is_told_who_plays(
    browser: Any, tmp_path: Path
) -> None:
    add_clients(tmp_path)
    served = Served([COMPANION, "serve", "--port", str(free_port())], tmp_path)
    first = second = None
    try:
        with served.explaining_failures():
            first = Tab(browser, served.url)
            start_session_by_touch(first, "Robin")
            width, height = first.cell_size()
            assert min(width * PAD_BUTTON_COLUMNS, height * PAD_BUTTON_ROWS) >= TOUCH_TARGET_PX
            first.tap_label(CORRECT, rows_off=-1)  # a finger lands off the label, still on the button
            _wait_until(lambda: len(trials_logged(tmp_path)) == 1, "the tap to be committed")
            first.wait_for_screen("Metronome")
            first.tap_label("Metronome", bottom_up=True)  # its key in the key bar
            _wait_until(lambda: OutputLock.holder_of(tmp_path) is not None, "the first tab to play")
            owner = OutputLock.holder_of(tmp_path)
            assert owner is not None and owner.origin == "a browser tab on this computer"

            second = Tab(browser, served.url)
            start_session_by_touch(second, "Sasha")
            second.wait_for_screen("Metronome")
            second.tap_label("Metronome", bottom_up=True)
            second.wait_for_screen("in use by the session started at")
            assert OutputLock.holder_of(tmp_path) == owner, "the first tab keeps the outputs"
            second.tap_label(INCORRECT, rows_off=1)
            _wait_until(lambda: len(trials_logged(tmp_path)) == 2, "the second tab's tap to be committed")
            robin, sasha = trials_logged(tmp_path)
            assert robin.payload == Trial(correct=True, prompt_level="independent")
            assert sasha.payload == Trial(correct=False, prompt_level="independent"), "the tapped button"
            assert robin.session_id != sasha.session_id, "each tab logs into its own session"
            assert robin.client_id != sasha.client_id, "each into its client's"
    finally:
        for tab in (first, second):
            if tab is not None:
                tab.close()
        assert served.stop() == 0
    assert OutputLock.holder_of(tmp_path) is None, "closing the tabs ended their apps"


def test_lan_mode_refuses_the_browser_without_the_token_and_runs_the_session_with_it(
    browser: Any, tmp_path: Path
) -> None:
    add_clients(tmp_path)
    port = free_port()
    served = Served([COMPANION, "serve", "--host", "0.0.0.0", "--port", str(port)], tmp_path)
    token = URL(served.url).query["token"]
    tabs = []
    try:
        refused = Tab(browser, f"http://127.0.0.1:{port}/")
        tabs.append(refused)
        assert refused.response is not None and refused.response.status == 403
        assert "access token is needed" in refused.page.inner_text("body")
        assert refused.page.evaluate(OPEN_WEBSOCKET, f"ws://127.0.0.1:{port}/ws") == "refused"
        assert "connected" not in served.output, "no app runs for a refused tab"

        admitted = Tab(browser, f"http://127.0.0.1:{port}/?token={token}")
        tabs.append(admitted)
        assert admitted.response is not None and admitted.response.status == 200
        served.wait_for_output("a browser tab on this computer connected (1 browser tab open)")
        admitted.wait_for_screen("Robin")  # the app itself, on the caseload
        assert admitted.page.evaluate(OPEN_WEBSOCKET, f"ws://127.0.0.1:{port}/ws") == "open", (
            "the same script is let in with the token's cookie"
        )
    finally:
        for tab in tabs:
            tab.close()
        assert served.stop() == 0


def test_a_second_observer_in_another_tab_records_blind_and_the_agreement_is_stored(
    browser: Any, tmp_path: Path
) -> None:
    """IOA as a practice takes it: the therapist runs Robin's session in one tab, a colleague in a second
    tab presses O on Today, picks that session and taps what they see without seeing the therapist's
    log; when both have ended, the trial-by-trial agreement (3 of 4 trials) is stored with the session."""
    add_clients(tmp_path)
    served = Served([COMPANION, "serve", "--port", str(free_port())], tmp_path)
    therapist = observer = None
    try:
        with served.explaining_failures():
            therapist = Tab(browser, served.url)
            start_session_by_touch(therapist, "Robin")
            observer = Tab(browser, served.url)
            observer.wait_for_screen("Clients")
            observer.page.focus(".xterm-helper-textarea")  # the terminal takes the keys, as after a touch
            observer.page.keyboard.press("O")
            observer.wait_for_screen("Observe which session")
            observer.page.keyboard.press("1")
            observer.wait_for_screen("second observer (IOA, blind)")
            for tab, taps in (
                (therapist, (CORRECT, CORRECT, INCORRECT, CORRECT)),
                (observer, (CORRECT,) * 4),
            ):
                for n, label in enumerate(taps, start=len(trials_logged(tmp_path)) + 1):
                    tab.page.wait_for_timeout(500)  # apart: two quick touches are a double tap (a zoom)
                    tab.tap_label(label)
                    _wait_until(lambda n=n: len(trials_logged(tmp_path)) == n, f"trial {n} to be committed")
            for tab in (observer, therapist):
                tab.page.focus(".xterm-helper-textarea")
                tab.page.keyboard.press("e")
                tab.wait_for_screen("End the session?")
                tab.page.keyboard.press("Enter")
            robin = trials_logged(tmp_path)[0].session_id

            def agreement() -> list[Any]:
                with Record.open(tmp_path, backup_every=None) as record:
                    return record.sessions.agreement(robin)

            _wait_until(lambda: bool(agreement()), "the agreement to be stored")
            (found,) = agreement()
            assert (found.measure, found.items, found.agreement_pct) == ("trial-by-trial", 4, 75.0)
    finally:
        for tab in (therapist, observer):
            if tab is not None:
                tab.close()
        assert served.stop() == 0
