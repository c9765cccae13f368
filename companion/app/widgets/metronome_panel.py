"""The metronome panel: beat light, tempo, transport, the musical cue and the output status, for keys and
for touch.

On a large screen it is a column: what is playing and any output problem first, under the beat light,
then big buttons; at 80 columns it folds into a strip under the log
(beat light, tempo and cue, status), the keys doing what the buttons do. Faded click or music shows, so
the therapist knows what the client hears.

It redraws only from the messages posted to it (`MetronomeChanged`, `MetronomeSays`): whoever changes
the metronome says so, and nothing outside the panel writes into its children.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Digits, Label, Static

from audio.cues import CLICK
from companion.app.widgets.beat_light import BeatLight
from companion.live.metronome_state import MetronomeState, describe

Row = tuple[tuple[tuple[str, str], ...], str]
BUTTON_ROWS: tuple[Row, ...] = (
    ((("−5", "nudge(-5)"), ("−1", "nudge(-1)"), ("+1", "nudge(1)"), ("+5", "nudge(5)")), ""),
    ((("▶ Start", "metronome"), ("Tap", "tap_tempo")), ""),
    ((("p Preset", "load_preset"), ("m Settings", "metronome_settings")), ""),
    (
        (("K Cue", "pick_cue"), ("k Music", "toggle_music"), ("L Loop", "mark_loop"), ("j Bar", "seek")),
        "cue-row",
    ),
    ((("f Fade click", "fade_click"), ("F Fade music", "fade_music")), "cue-row"),
    ((("< Softer", "intensity(-1)"), ("> Fuller", "intensity(1)")), "cue-row"),
)
"""(label, session-screen action) per button, row by row, with the row's extra CSS class (the cue's rows
fold away on a short screen)."""


class MetronomeChanged(Message, bubble=False):
    """The metronome's state changed: the panel redraws from it. `playing_bpm` is the tempo playing when
    it differs from the set one (a step of a ramp, at the bar line)."""

    def __init__(self, state: MetronomeState, playing_bpm: float | None = None) -> None:
        super().__init__()
        self.state = state
        self.playing_bpm = playing_bpm


class MetronomeSays(Message, bubble=False):
    """A line for the panel's status until the next state: a tap-tempo reading, why the outputs are
    refused."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class PanelButton(Button, can_focus=False):
    def __init__(self, label: str, action: str, id: str | None = None) -> None:
        super().__init__(label, id=id, classes="metro", action=f"screen.{action}")


class MetronomePanel(Vertical):
    """Shows the MetronomeState posted to it; its buttons run the session screen's metronome actions."""

    def compose(self) -> ComposeResult:
        yield Label("Metronome", classes="panel-title wide-only")
        yield BeatLight(id="beat-light")
        with Horizontal(id="tempo-row"):
            yield Digits("80", id="bpm-digits", classes="wide-only")
            yield Static("", id="tempo-line")
        yield Static("", id="metro-settings", classes="wide-only", markup=False)
        yield Static("", id="metro-status", markup=False)
        for labels, classes in BUTTON_ROWS:
            with Horizontal(classes=f"metro-row wide-only {classes}".strip()):
                for label, action in labels:
                    yield PanelButton(label, action, id="transport" if action == "metronome" else None)

    def on_metronome_changed(self, message: MetronomeChanged) -> None:
        state = message.state
        playing = message.playing_bpm if message.playing_bpm is not None else state.bpm
        shown = f"{playing:.1f}".rstrip("0").rstrip(".")
        self.query_one("#bpm-digits", Digits).update(shown)
        line = Text()
        line.append("■ " if state.running else "▶ ", style="bold")
        line.append(f"{shown} bpm", style="bold")
        line.append(f" {state.settings.meter}")
        line.append("  space " + ("stops" if state.running else "starts"), style="dim")
        if state.cue is not CLICK or state.cue_marks:
            line.append(f"\n{state.cue_short}", style="italic")
        self.query_one("#tempo-line", Static).update(line)
        self.query_one("#transport", Button).label = "■ Stop" if state.running else "▶ Start"
        self.query_one("#metro-settings", Static).update(f"{describe(state.settings)}\n{state.cue_line}")
        self.query_one(BeatLight).set_bar(state.settings.meter.beats)
        self.query_one("#metro-status", Static).update(self._status(state))

    def on_metronome_says(self, message: MetronomeSays) -> None:
        self.query_one("#metro-status", Static).update(message.text)

    @staticmethod
    def _status(state: MetronomeState) -> Text:
        text = Text()
        if state.engine_problem:
            text.append(f"{state.engine_problem}\n", style="bold #e71d36")
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
        if state.xruns:
            text.append(
                f"\n{state.xruns} audio xrun{'s' if state.xruns > 1 else ''} (the beat stays on time; "
                "a larger audio buffer in settings (m) avoids them)",
                style="#ff9f1c",
            )
        for note in state.engine_notes if state.running else ():
            text.append(f"\nnote: {note}", style="dim")
        if state.problems and state.running and state.silent:
            text.append(
                "The beat light keeps time; fix the output and press ctrl+r to reconnect.", style="dim"
            )
        return text
