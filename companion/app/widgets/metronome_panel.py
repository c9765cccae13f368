"""The metronome panel: beat light, tempo, transport and the output status, for keys and for touch.

On a large screen it is a column with big buttons; at 80 columns it folds into a strip under the log
(beat light, tempo, status), the keys doing what the buttons do.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Digits, Label, Static

from companion.app.metronome_control import MetronomeState, describe
from companion.app.widgets.beat_light import BeatLight


class PanelButton(Button, can_focus=False):
    def __init__(self, label: str, action: str, id: str | None = None) -> None:
        super().__init__(label, id=id, classes="metro", action=f"screen.{action}")


class MetronomePanel(Vertical):
    """Shows a MetronomeState; its buttons run the session screen's metronome actions."""

    def compose(self) -> ComposeResult:
        yield Label("Metronome", classes="panel-title wide-only")
        yield BeatLight(id="beat-light")
        with Horizontal(id="tempo-row"):
            yield Digits("80", id="bpm-digits", classes="wide-only")
            yield Static("", id="tempo-line")
        with Horizontal(classes="metro-row wide-only"):
            yield PanelButton("−5", "nudge(-5)")
            yield PanelButton("−1", "nudge(-1)")
            yield PanelButton("+1", "nudge(1)")
            yield PanelButton("+5", "nudge(5)")
        with Horizontal(classes="metro-row wide-only"):
            yield PanelButton("▶ Start", "metronome", id="transport")
            yield PanelButton("Tap", "tap_tempo")
        with Horizontal(classes="metro-row wide-only"):
            yield PanelButton("p Preset", "load_preset")
            yield PanelButton("m Settings", "metronome_settings")
        yield Static("", id="metro-settings", classes="wide-only")
        yield Static("", id="metro-status")

    def show(self, state: MetronomeState, bpm: float | None = None) -> None:
        """Redraw from a state; `bpm` overrides the set tempo with the one playing (during a ramp)."""
        playing = bpm if bpm is not None else state.bpm
        shown = f"{playing:.1f}".rstrip("0").rstrip(".")
        self.query_one("#bpm-digits", Digits).update(shown)
        line = Text()
        line.append("■ " if state.running else "▶ ", style="bold")
        line.append(f"{shown} bpm", style="bold")
        line.append(f" {state.settings.meter}")
        line.append("  space " + ("stops" if state.running else "starts"), style="dim")
        self.query_one("#tempo-line", Static).update(line)
        self.query_one("#transport", Button).label = "■ Stop" if state.running else "▶ Start"
        self.query_one("#metro-settings", Static).update(f"{describe(state.settings)}\n{state.cue_line}")
        self.query_one(BeatLight).set_bar(state.settings.meter.beats)
        self.query_one("#metro-status", Static).update(self._status(state))

    @staticmethod
    def _status(state: MetronomeState) -> Text:
        text = Text()
        if state.output == "none":
            text.append("Output: none (beat light only)", style="dim")
            return text
        wanted = ["audio", "midi"] if state.output == "both" else [state.output]
        for name in wanted:
            problem = state.problems.get(name)
            if problem:
                text.append(f"{name} unavailable: {problem}\n", style="bold #e71d36")
            else:
                text.append(f"{name} ✓ ", style="#2ec4b6")
        if state.problems and state.running and state.silent:
            text.append(
                "The beat light keeps time; fix the output and press ctrl+r to reconnect.", style="dim"
            )
        return text
