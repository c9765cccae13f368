"""The live log of a session: newest entry on top, pending entries marked, undone entries struck through.

A line-API scroll view: entries are kept in a list and only the visible lines are rendered, so a tap
costs the same with 5 or 500 entries in the log (a widget per entry made every tap slower as the
session grew). An entry that becomes saved (a retry succeeded) or undone is redrawn in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from companion.live.session_controller import LogEntry
from companion.live.wall_clock import local_time


@dataclass(frozen=True)
class Shown:
    """One line of the log: the entry and what it says."""

    entry: LogEntry
    text: str
    who: str = ""

    def line(self, pending: Style, undone: Style) -> Text:
        entry = self.entry
        line = Text(local_time(entry.event.wall_time), style="dim")
        if self.who:
            line.append(f"  {self.who}", style="bold")
        line.append("  ")
        line.append(self.text, style="strike" if entry.undone else "")
        if entry.undone:
            line.append("  undone", style="italic")
        if not entry.saved:
            line.append("  ⚠ pending — not on disk yet, retrying", style="bold")
        if not entry.saved:
            line.stylize(pending)
        elif entry.undone:
            line.stylize(undone)
        return line


class SessionLog(ScrollView, can_focus=False):
    """Entries of the session, newest first."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"session-log--pending", "session-log--undone"}

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: dict[str, Shown] = {}
        self._order: list[str] = []  # newest first

    def show(self, entry: LogEntry, text: str, who: str = "") -> Shown:
        """Add the entry on top, or redraw it where it is; returns what is shown."""
        shown = Shown(entry, text, who)
        if entry.id not in self._lines:
            self._order.insert(0, entry.id)
            self.virtual_size = Size(self.size.width, len(self._order))
        self._lines[entry.id] = shown
        self.refresh()
        return shown

    def shown(self) -> list[Shown]:
        """What the log holds, newest first."""
        return [self._lines[i] for i in self._order]

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        index = scroll_y + y
        if index >= len(self._order):
            return Strip.blank(width, self.rich_style)
        shown = self._lines[self._order[index]]
        pending = self.get_component_rich_style("session-log--pending")
        undone = self.get_component_rich_style("session-log--undone")
        text = shown.line(pending, undone)
        fill = pending if not shown.entry.saved else self.rich_style
        strip = Strip(list(text.render(self.app.console)), text.cell_len)
        return strip.crop_extend(scroll_x, scroll_x + width, fill).apply_style(self.rich_style)
