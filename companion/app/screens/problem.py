"""Shown when the record cannot be opened at start-up: the cause, the fix, and what can be done here.

A damaged database can be replaced by its newest backup from this screen (the damaged file is kept
beside it, never deleted); anything else is fixed outside the app and retried with one key.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from companion.paths import data_dir as resolve_data_dir
from companion.paths import database_path
from companion.record import StorageError
from companion.record.backups import list_backups, restore_backup
from companion.record.cipher import DataKey


class StartupProblem(ModalScreen[bool]):
    """The record could not be opened; dismisses True to retry, False to quit."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "retry", "Retry"),
        Binding("b", "restore", "Restore backup"),
        Binding("q,escape", "quit", "Quit"),
    ]

    def __init__(self, message: str, data_dir: Path | None, key: DataKey | None = None) -> None:
        super().__init__()
        self.message = message
        self.data_dir = data_dir
        self.key = key

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog problem"):
            yield Label("The session record could not be opened", classes="dialog-title")
            yield Static(self.message, id="message", classes="dialog-message", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Retry (r)", id="retry", variant="primary")
                yield Button("Restore newest backup (b)", id="restore")
                yield Button("Quit (q)", id="quit")

    @on(Button.Pressed, "#retry")
    def action_retry(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#quit")
    def action_quit(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed, "#restore")
    def action_restore(self) -> None:
        try:
            directory = resolve_data_dir(self.data_dir)
            if not list_backups(directory):
                self.notify(f"There is no backup in {directory / 'backups'}.", severity="error")
                return
            restored, aside = restore_backup(directory, database_path(directory), key=self.key)
        except (StorageError, OSError) as problem:
            self.notify(str(problem), title="Restore failed", severity="error", timeout=15)
            return
        kept = f"; the damaged file was kept as {aside.name}" if aside else ""
        self.notify(f"Restored {restored.name}{kept}.", timeout=15)
        self.dismiss(True)
