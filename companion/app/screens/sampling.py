"""Time sampling: every N seconds the app asks "on task?" for each client, one touch each.

Momentary time sampling, partial- and whole-interval recording (ABA) all come down to one yes/no per client
per interval; the method says which question the therapist answers. For one client, `y` or `n` answers at
once. For a group, each client's number (or a touch) marks a yes and Enter records the interval: the ones
not marked are a no, so a glance at the room and a few touches take the sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Button, Label

from companion.app.screens.dialogs import Dialog
from companion.live.time_sampling import QUESTIONS, SamplingPlan
from companion.record import Client


class ClientToggle(Button, can_focus=False):
    def __init__(self, number: int, client: Client) -> None:
        super().__init__(f"{number} {escape(client.display_name)}", classes="sample-client")
        self.client = client


class SampleDialog(Dialog[dict[int, bool]]):
    """One interval: a yes/no per client. Returns {client id: occurred}."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Skip this sample"),
        Binding("enter", "record", "Record"),
        Binding("y", "answer(True)", "Yes", show=False),
        Binding("n", "answer(False)", "No", show=False),
    ]

    def __init__(self, plan: SamplingPlan, clients: Sequence[Client], number: int) -> None:
        super().__init__(f"{escape(plan.label.capitalize())}? sample {number}")
        self.plan = plan
        self.clients = list(clients)
        self.marked: set[int] = set()

    def body(self) -> ComposeResult:
        yield Label(QUESTIONS[self.plan.method])
        for number, client in enumerate(self.clients, start=1):
            yield ClientToggle(number, client)
        hint = (
            "y / n" if len(self.clients) == 1 else "a client's number marks yes · Enter records · Esc skips"
        )
        yield Label(hint, classes="dialog-hint")

    def on_key(self, event: Any) -> None:
        if event.character and event.character.isdigit() and event.character != "0":
            index = int(event.character) - 1
            if index < len(self.clients):
                event.stop()
                self._toggle(self.clients[index].id)

    @on(Button.Pressed, ".sample-client")
    def _touched(self, event: Button.Pressed) -> None:
        assert isinstance(event.button, ClientToggle)
        self._toggle(event.button.client.id)

    def _toggle(self, client_id: int) -> None:
        self.marked ^= {client_id}
        for toggle in self.query(ClientToggle):
            toggle.set_class(toggle.client.id in self.marked, "-selected")

    def action_answer(self, occurred: bool) -> None:
        """y/n: for one client the answer itself; in a group, yes or no for everyone."""
        self.dismiss({client.id: occurred for client in self.clients})

    def action_record(self) -> None:
        self.dismiss({client.id: client.id in self.marked for client in self.clients})
