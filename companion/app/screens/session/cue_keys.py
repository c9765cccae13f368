"""The musical cue keys of the live session: the plan's groove or song on/off, choosing another (the
client's songs first), fading the click or the music, the groove's intensity, an A-B loop and going to a
bar of the song. Each change applies from the next bar line; the panel shows what the client hears.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.binding import Binding, BindingType

from audio.cues import CLICK
from audio.tempo import TimeSignature
from companion.app.screens.cue_picker import CuePicker
from companion.app.screens.dialogs import TextPrompt
from companion.app.screens.session.metronome_keys import MetronomeKeys
from companion.live.cue_choices import CueChoice, cue_choices


class CueKeys(MetronomeKeys):
    """The cue the metronome plays, by key or by the panel's buttons."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "k", "toggle_music", "Music cue on/off", show=False, tooltip="The plan's groove or song on/off"
        ),
        Binding(
            "K",
            "pick_cue",
            "Song or groove…",
            show=False,
            key_display="K",
            tooltip="Choose the cue: the client's songs first",
        ),
        Binding(
            "f",
            "fade_click",
            "Fade the click out/in",
            show=False,
            tooltip="Fade the click out over two bars (carry-over), again: back in",
        ),
        Binding("F", "fade_music", "Fade the music out/in", show=False, key_display="F"),
        Binding("greater_than_sign,full_stop", "intensity(1)", "Groove fuller", show=False, key_display=">"),
        Binding("less_than_sign,comma", "intensity(-1)", "Groove softer", show=False, key_display="<"),
        Binding(
            "L",
            "mark_loop",
            "Loop A-B",
            show=False,
            key_display="L",
            tooltip="Loop A-B: mark bar A, then bar B; again ends it",
        ),
        Binding("j", "seek", "Go to bar…", show=False, tooltip="Jump to a bar of the song (at the bar line)"),
    ]

    def action_toggle_music(self) -> None:
        """The plan's groove or song off (the click alone), or back on, from the next bar line."""
        if self.metronome.cue is CLICK:
            self.notify("The cue is the click: load a plan's preset (p) for its groove or song.")
            return
        on: list[bool] = []
        self._apply(lambda: on.append(self.metronome.toggle_music()))
        if on:
            self.notify(f"{self.metronome.cue.summary}: {'on' if on[0] else 'off, click only'}", timeout=3)

    def _cue_change(self, change: Callable[[], str]) -> None:
        """Run a cue control; its outcome (or why it cannot apply now) is shown, the panel redrawn."""
        try:
            outcome = change()
        except ValueError as problem:
            self.notify(str(problem), title="Cue not changed", severity="warning")
            return
        self._metronome_changed()
        self.notify(outcome, timeout=3)

    def action_fade_click(self) -> None:
        self._cue_change(lambda: "Click " + _fading(self.metronome.fade_click()))

    def action_fade_music(self) -> None:
        self._cue_change(lambda: "Music " + _fading(self.metronome.fade_music()))

    def action_intensity(self, step: int) -> None:
        self._cue_change(lambda: f"Groove intensity {self.metronome.change_intensity(step)} of 3")

    def action_mark_loop(self) -> None:
        def mark() -> str:
            loop = self.metronome.mark_loop()
            start = self.metronome.loop_start
            if loop is not None:
                return f"Looping {loop} from the next bar line (L again ends the loop)"
            if start is not None:
                return f"Loop from bar {start}: press L at its last bar"
            return "Loop ended: the song plays on"

        self._cue_change(mark)

    def action_seek(self) -> None:
        try:
            bars = self.metronome.song_bars()
        except ValueError as problem:
            self.notify(str(problem), title="Cue not changed", severity="warning")
            return

        def entered(text: str | None) -> None:
            if text:
                self._cue_change(lambda: f"Bar {self.metronome.seek(int(text))} from the next bar line")

        self.app.push_screen(
            TextPrompt(f"Go to bar (1-{bars})", "e.g. 5", accept="Go", restrict=r"[0-9]*"), entered
        )

    def action_pick_cue(self) -> None:
        metronome = self.metronome
        meter = metronome.settings.meter
        choices = cue_choices(self.live.client.preferred_songs, TimeSignature(meter.beats, meter.unit))

        def chosen(choice: CueChoice | None) -> None:
            if choice is None:
                return
            if choice.cue is None:
                self.notify(
                    f"{choice.problem} The cue stays {metronome.cue.summary}; the session carries on.",
                    title="This song cannot play",
                    severity="error",
                    timeout=15,
                )
                return
            cue = choice.cue
            notes: list[str | None] = []
            self._apply(lambda: notes.append(metronome.choose_cue(cue)), f"Cue: {cue.summary}")
            for note in notes:
                if note:
                    self.notify(note, title="Cue", severity="warning", timeout=10)

        self.app.push_screen(CuePicker(choices, metronome.cue), chosen)


def _fading(gain: float) -> str:
    return "fading out over two bars" if gain == 0 else "fading back in over two bars"
