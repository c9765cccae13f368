"""For group sessions: one button per client, the selected one highlighted; taps go to that client."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button

from companion.record import Client


class ClientButton(Button, can_focus=False):
    def __init__(self, client: Client) -> None:
        super().__init__(
            client.display_name,
            id=f"client-{client.id}",
            classes="client",
            action=f"screen.select_client({client.id})",
        )
        self.client_id = client.id


class ClientBar(Horizontal):
    """Touch a name (or press g) to choose whom the next taps are for."""

    def __init__(self, clients: Sequence[Client], id: str | None = None) -> None:
        super().__init__(id=id)
        self.clients = list(clients)

    def compose(self) -> ComposeResult:
        for client in self.clients:
            yield ClientButton(client)

    def select(self, client_id: int) -> None:
        for button in self.query(ClientButton):
            button.set_class(button.client_id == client_id, "-selected")
