"""Every key of the screen underneath and of the app, read from their BINDINGS so it is never stale."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

KEYS_WIDTH = 24
"""The keys column's width at most, so the descriptions stay readable beside eight keys of a group."""
GUIDE = (
    "Every action is also in the command palette (ctrl+p), and every button can be touched. "
    "Taps are saved to disk before they appear in the log; an entry marked “pending” is kept and "
    "retried until the disk accepts it."
)


class HelpScreen(ModalScreen[None]):
    """A table of keys: this screen's, then the app's."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,f1,q", "dismiss", "Close help")]

    def __init__(self, underneath: Screen[Any]) -> None:
        super().__init__()
        self.underneath = underneath
        self.listed: dict[str, str] = {}
        """Description -> keys of every line shown."""

    def compose(self) -> ComposeResult:
        from companion.app.bindings import declared_bindings

        app_bindings = [*declared_bindings(self.app), Binding("ctrl+p", "command_palette", "Command palette")]
        title = getattr(self.underneath, "HELP_TITLE", type(self.underneath).__name__)
        with Vertical(classes="dialog help"):
            yield Label(f"Keys — {title}", classes="dialog-title")
            with VerticalScroll():
                yield Static(self._table(declared_bindings(self.underneath)))
                yield Label("Everywhere", classes="panel-title")
                yield Static(self._table(app_bindings))
                yield Static(Text(GUIDE, style="dim"))

    def _table(self, bindings: list[Binding]) -> Table:
        keys: dict[str, list[str]] = defaultdict(list)
        descriptions: dict[str, Binding] = {}
        for binding in bindings:
            line = binding.group.description if binding.group is not None else binding.action
            keys[line].append(self.app.get_key_display(binding))
            descriptions.setdefault(line, binding)
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", max_width=KEYS_WIDTH)  # a long group of keys wraps
        table.add_column()
        for line, shown in keys.items():
            binding = descriptions[line]
            group = binding.group.description if binding.group is not None else ""
            self.listed[group or binding.description] = " / ".join(dict.fromkeys(shown))
            table.add_row(
                self.listed[group or binding.description], group or binding.tooltip or binding.description
            )
        return table

    async def action_dismiss(self, result: Any = None) -> None:
        self.dismiss(None)
