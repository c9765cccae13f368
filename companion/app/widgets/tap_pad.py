"""The quick-tap pad: big buttons for touch, each labelled with its key, each running a screen action.

The pad is rebuilt when the selected client changes, because each client has their own prompt
hierarchy (its levels become the numbered buttons). Buttons never take focus, so every key on the
session screen reaches the screen's bindings whatever was touched last.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Button

MAX_LEVEL_KEYS = 9
LATENCY_LABEL = "l Latency"
LATENCY_WAITING_LABEL = "l Response ⏱"


class TapButton(Button, can_focus=False):
    """A pad button that runs a session-screen action (the same one its key runs) when touched."""

    def __init__(self, label: str, action: str, classes: str = "") -> None:
        super().__init__(label, classes=f"tap {classes}".strip(), action=f"screen.{action}")
        self.styles.line_pad = 0  # every column counts at 80 wide (the CSS parser refuses `line-pad: 0`)


class TapPad(Grid):
    """Correct/incorrect, one button per prompt level, no response and refused, then count, time, latency,
    rating, note, undo."""

    def __init__(self, levels: Sequence[str], id: str | None = None) -> None:
        super().__init__(id=id)
        self.levels = tuple(levels)

    def compose(self) -> ComposeResult:
        yield TapButton("+ Correct", "trial(True, 0)", "-correct")
        yield TapButton("− Incorrect", "trial(False, 0)", "-incorrect")
        for number, level in enumerate(self.levels[1:MAX_LEVEL_KEYS], start=2):
            yield TapButton(f"{number} {level.capitalize()}", f"trial(True, {number - 1})", "-prompt")
        yield TapButton("0 No resp.", "trial(False, 0, 'no response')", "-incorrect")
        yield TapButton("⇧0 Refused", "trial(False, 0, 'refused')", "-incorrect")
        yield TapButton("c Count", "count", "-count")
        yield TapButton("d Time ▶■", "duration", "-duration")
        yield TapButton(LATENCY_LABEL, "latency", "-latency")
        yield TapButton("r Rate", "rating", "-rating")
        yield TapButton("n Note", "note", "-note")
        yield TapButton("u Undo", "undo", "-undo")

    def show_latency_waiting(self, waiting: bool) -> None:
        """A cue is marked and the response not yet: say so on the button that will end it, so a therapist
        who looks away knows the next `l` ends a latency rather than starting one."""
        button = self.query_one(".-latency", TapButton)
        button.label = LATENCY_WAITING_LABEL if waiting else LATENCY_LABEL
        button.set_class(waiting, "-waiting")

    async def set_levels(self, levels: Sequence[str]) -> None:
        if tuple(levels) != self.levels:
            self.levels = tuple(levels)
            await self.recompose()
