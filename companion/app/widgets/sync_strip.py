"""The live feedback strip: each of the client's hits as a mark left (early) or right (late) of the beat,
the on-beat window around it, the running % on the beat, the last block, and adaptive tempo while on.

It draws a `StripView` (computed by `companion.live.listening_control`) and nothing else: a hit reaches it
as a message posted by the MIDI thread, so a busy screen can delay a mark but never the beat or the hit's
timestamp. Readable from a metre away: the newest mark is large and coloured, older ones fade.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from companion.live.listening_control import StripView

ON_BEAT, OFF_BEAT, EXTRA = "#2ec4b6", "#ff9f1c", "#9a9a9a"
WINDOW_BG, TRACK = "#1f4d48", "#555555"
EDGE_LABELS = ("early ", " late")


def column(ms: float, span_ms: float, width: int) -> int:
    """The cell of a hit `ms` from the beat on a track `width` cells wide spanning ±`span_ms`."""
    clamped = max(-span_ms, min(span_ms, ms))
    return round((clamped + span_ms) / (2 * span_ms) * (width - 1))


class SyncStrip(Widget):
    """Shown while listening or while adaptive tempo is on (the screen sets the `-on` class)."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view: StripView | None = None

    def show(self, view: StripView) -> None:
        self.view = view
        self.set_class(view.visible, "-on")
        self.refresh(layout=True)

    def track(self, width: int) -> Text:
        """The dial as one line: window shaded, the beat at the centre, recent hits as marks."""
        view = self.view
        assert view is not None
        width = max(width, 9)
        cells = [Text("┄", style=TRACK) for _ in range(width)]
        low, high = column(-view.window_ms, view.span_ms, width), column(view.window_ms, view.span_ms, width)
        for i in range(low, high + 1):
            cells[i] = Text(" ", style=f"on {WINDOW_BG}")
        centre = column(0.0, view.span_ms, width)
        cells[centre] = Text("│", style=f"bold on {WINDOW_BG}")
        newest = len(view.marks) - 1
        for age, mark in enumerate(view.marks):
            colour = EXTRA if mark.extra else ON_BEAT if mark.on_beat else OFF_BEAT
            i = column(mark.asynchrony_ms, view.span_ms, width)
            background = f" on {WINDOW_BG}" if low <= i <= high else ""
            glyph, style = ("●", f"bold {colour}") if age == newest else ("•", f"{colour} dim")
            cells[i] = Text(glyph, style=style + background)
        return Text.assemble(*cells)

    def render(self) -> Text:
        """One line each (never wrapped, see the stylesheet), most important first, as a short screen cuts
        the last: what is listened to, the dial, adaptive tempo (always shown while on), a problem, then
        the last hit and block."""
        view = self.view
        if view is None:
            return Text()
        width = self.content_size.width
        lines = [Text(view.headline, style="bold")]
        if view.listening:
            inner = width - sum(map(len, EDGE_LABELS))
            lines.append(Text.assemble((EDGE_LABELS[0], "dim"), self.track(inner), (EDGE_LABELS[1], "dim")))
        if view.adaptive:
            lines.append(Text(view.adaptive, style=f"bold {OFF_BEAT}"))
        if view.problem:
            lines.append(Text(view.problem, style="bold #e71d36"))
        detail = " · ".join(part for part in (view.last_hit, view.last_block) if part)
        if view.listening and detail:
            lines.append(Text(detail))
        return Text("\n").join(lines)
