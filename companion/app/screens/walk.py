"""A timed walk in one dialog: `W` at the start line, `W` at the finish, then the steps counted, Enter.

The 10-metre walk test times the middle 10 m of a longer walkway and counts the steps there; gait
velocity, cadence and stride length all follow from distance, seconds and steps, so those three are what
is asked (the seconds come from the two presses and can be corrected, e.g. from a stopwatch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Input, Label

from companion.app.screens.dialogs import Dialog

DEFAULT_DISTANCE_M = 10.0


@dataclass(frozen=True)
class WalkResult:
    seconds: float
    distance_m: float
    steps: int | None


def parse_walk(seconds: str, distance: str, steps: str) -> WalkResult | str:
    """The walk typed into the dialog, or what is wrong with it in words."""
    try:
        secs, metres = float(seconds), float(distance)
    except ValueError:
        return "Seconds and distance are numbers (e.g. 12.4 and 10)."
    if not (math.isfinite(secs) and math.isfinite(metres)) or secs <= 0 or metres <= 0:
        return "Seconds and distance must be more than 0."
    if not steps.strip():
        return WalkResult(secs, metres, None)
    if not steps.strip().isdigit() or int(steps) < 2:
        return "Steps are a whole number of at least 2 (or leave them empty)."
    return WalkResult(secs, metres, int(steps))


class WalkDialog(Dialog[WalkResult]):
    """Seconds (timed by the two presses), distance and steps; Enter in the last logs it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, seconds: float | None) -> None:
        super().__init__("Timed walk")
        self.seconds = seconds

    def body(self) -> ComposeResult:
        timed = "" if self.seconds is None else f"{self.seconds:.2f}"
        yield Label("Seconds")
        yield Input(timed, placeholder="e.g. 12.4", id="seconds", restrict=r"[0-9.]*")
        yield Label("Distance (m)")
        yield Input(f"{DEFAULT_DISTANCE_M:g}", id="distance", restrict=r"[0-9.]*")
        yield Label("Steps counted (optional: for cadence and stride length)")
        yield Input(placeholder="e.g. 17", id="steps", restrict=r"[0-9]*")
        yield Label("Enter logs it · Esc discards the walk", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#steps" if self.seconds is not None else "#seconds", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, _event: Input.Submitted) -> None:
        found = parse_walk(
            *(self.query_one(f"#{name}", Input).value for name in ("seconds", "distance", "steps"))
        )
        if isinstance(found, str):
            self.notify(found, severity="warning")
            return
        self.dismiss(found)
