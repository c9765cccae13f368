"""The dialog that starts a session: whom it is with (chosen before), where, and which intervention opens
it; Enter starts."""

from __future__ import annotations

from collections.abc import Sequence

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Button, Label, Select

from companion.app.screens.dialogs import Dialog
from companion.live.session_controller import SessionRequest


class StartSession(Dialog[SessionRequest]):
    """Confirm whom the session is with, where, and which intervention opens it: Enter starts."""

    def __init__(
        self,
        client_ids: Sequence[int],
        names: str,
        settings: Sequence[str],
        setting: str,
        plans: Sequence[tuple[str, str]],
        plan_id: str | None,
    ) -> None:
        super().__init__(f"Start a session with {names}")
        self.client_ids = tuple(client_ids)
        self.settings = list(dict.fromkeys([setting, *settings])) if setting else list(settings)
        self.setting = setting
        self.plans = list(plans)
        self.plan_id = plan_id

    def body(self) -> ComposeResult:
        with Vertical(classes="form"):
            yield Label("Setting")
            yield Select(
                [(s, s) for s in self.settings], value=self.setting or self.settings[0], id="setting"
            )
            yield Label("Opening intervention")
            yield Select(
                [("none (choose later with i)", ""), *((title, pid) for title, pid in self.plans)],
                value=self.plan_id or "",
                id="opening-plan",  # not "plan": the stylesheet sizes #plan as the session's plan column
                allow_blank=False,
            )
        yield self.buttons("Start session (Enter)")

    def on_mount(self) -> None:
        self.query_one("#accept", Button).focus()

    @on(Button.Pressed, "#accept")
    def _accept(self) -> None:
        plan = str(self.query_one("#opening-plan", Select).value or "")
        self.dismiss(
            SessionRequest(self.client_ids, str(self.query_one("#setting", Select).value), plan or None)
        )
