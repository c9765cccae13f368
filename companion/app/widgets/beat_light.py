"""A large beat light: one cell per beat of the bar, the sounding beat lit, the downbeat in its own colour.

It only displays BeatEvents posted to it (from the engine's dispatcher thread, at each beat's sounding
time); it never keeps time itself, so a busy screen can delay a flash but never the beat.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget

from audio.engine_events import BeatEvent
from audio.tempo import Level

FLASH_S = 0.12
ACCENT, BEAT, COUNT_IN = "#ff9f1c", "#2ec4b6", "#e71d36"
DARK, DARK_TEXT = "#333333", "#9a9a9a"


class Beat(Message):
    """A beat to show (posted from the engine's dispatcher thread)."""

    def __init__(self, event: BeatEvent) -> None:
        super().__init__()
        self.event = event


class BeatLight(Widget):
    """Cells for the beats of the bar; `lit` is the beat index lit now (-1: dark)."""

    beats = reactive(4)
    lit = reactive(-1)
    accent = reactive(False)
    count_in = reactive(False)

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shown = 0
        """Beats shown so far (the benchmark reads it with `last_lag`)."""
        self.last_lag = 0.0
        """Seconds between a beat's scheduled time and the moment this light showed it."""
        self._dark_timer: Timer | None = None

    def on_beat(self, message: Beat) -> None:
        event = message.event
        if event.sub != 0:
            return
        self.count_in = event.count_in
        self.accent = event.level is Level.ACCENT
        self.lit = event.beat
        self.shown += 1
        self.last_lag = time.perf_counter() - event.time
        if self._dark_timer is not None:
            self._dark_timer.stop()
        self._dark_timer = self.set_timer(FLASH_S, self._dark)

    def _dark(self) -> None:
        self.lit = -1

    def set_bar(self, beats: int) -> None:
        self.beats = max(1, beats)

    def render(self) -> Text:
        width, height = self.content_size.width, max(self.content_size.height, 1)
        cells = self.beats
        gap = 1 if width >= cells * 3 else 0
        cell = max(1, (width - gap * (cells - 1)) // cells)
        colour = COUNT_IN if self.count_in else ACCENT if self.accent else BEAT
        text = Text()
        for row in range(height):
            for beat in range(cells):
                on = beat == self.lit
                label = str(beat + 1).center(cell) if row == height // 2 else " " * cell
                text.append(label, style=f"bold #101010 on {colour}" if on else f"{DARK_TEXT} on {DARK}")
                if gap and beat < cells - 1:
                    text.append(" ")
            if row < height - 1:
                text.append("\n")
        return text
