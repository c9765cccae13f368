"""Tablet mode in a real browser: headless Chromium (Debian's, via Playwright) against `companion serve`.

A tablet is emulated with touch input, so a tap travels the whole way: touch event -> xterm.js mouse
report -> websocket -> the tab's app process -> a committed row in the SQLite file on disk.
In CI (CI=true) a missing Chromium fails the run instead of skipping it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
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
    """One browser tab on the served app, keeping everything the server sent it over the websocket."""

    def __init__(self, browser: Any, url: str) -> None:
        self.page = browser.new_context(**TABLET).new_page()
        self.received: list[str] = []
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._keep))
        self.response = self.page.goto(url)

    def _keep(self, payload: str | bytes) -> None:
        self.received.append(payload if isinstance(payload, str) else payload.decode("utf-8", "replace"))

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

    def tap(self, x_fraction: float, y_fraction: float) -> None:
        box = self.page.locator("#terminal").bounding_box()
        assert box is not None
        self.page.touchscreen.tap(box["x"] + box["width"] * x_fraction, box["y"] + box["height"] * y_fraction)

    def close(self) -> None:
        self.page.context.close()


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
            first.wait_for_screen("correct")
            first.tap(0.5, 0.6)
            _wait_until(lambda: len(trials_logged(tmp_path)) == 1, "the tap to be committed")
            owner = OutputLock.holder_of(tmp_path)
            assert owner is not None
            [trial] = trials_logged(tmp_path)
            assert trial.payload == Trial(correct=True, prompt_level="independent")

            second = Tab(browser, served.url)
            second.wait_for_screen("audio/MIDI are in use by the session started at")
            assert OutputLock.holder_of(tmp_path) == owner, "the first tab keeps the outputs"
            second.tap(0.5, 0.6)
            _wait_until(lambda: len(trials_logged(tmp_path)) == 2, "the second tab's tap to be committed")
            first_session, second_session = (t.session_id for t in trials_logged(tmp_path))
            assert first_session != second_session, "each tab logs into its own session"
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
