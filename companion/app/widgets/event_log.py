"""The live log of a session: newest entry on top, pending entries marked, undone entries struck through.

One Static per entry, keyed by the event id, so an entry that becomes saved (a retry succeeded) or undone
is redrawn in place instead of appended again.
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from companion.app.clock import local_time
from companion.session_controller import LogEntry


class LogLine(Static):
    """One entry; `-pending` and `-undone` classes style it."""


class EventLog(VerticalScroll, can_focus=False):
    """Entries of the session, newest first."""

    def show(self, entry: LogEntry, text: str, who: str = "") -> LogLine:
        """Add the entry, or redraw it if it is already shown; returns its line."""
        line_id = f"e-{entry.id}"
        found = self.query(f"#{line_id}")
        line = found.first(LogLine) if found else LogLine(id=line_id)
        line.update(self._line_text(entry, text, who))
        line.set_class(not entry.saved, "-pending")
        line.set_class(entry.undone, "-undone")
        if not found:
            self.mount(line, before=0 if self.children else None)
        return line

    @staticmethod
    def _line_text(entry: LogEntry, text: str, who: str) -> Text:
        line = Text(local_time(entry.event.wall_time), style="dim")
        if who:
            line.append(f"  {who}", style="bold")
        line.append("  ")
        line.append(text, style="strike" if entry.undone else "")
        if entry.undone:
            line.append("  undone", style="italic")
        if not entry.saved:
            line.append("  ⚠ pending — not on disk yet, retrying", style="bold")
        return line
