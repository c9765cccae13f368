"""The first screen of a practice with staff: who is using the app, asked before any client is shown.

A record with staff hands out no client data until someone signs in (`companion.record.access`); a solo
practice never sees this screen. The password is checked against its argon2id hash in a thread (slow on
purpose, about 150 ms here, so that guessing is slow too), so the screen keeps answering meanwhile. A failure
shows the record's one message whatever was wrong, so the screen never tells who works here; the
password is cleared after a failed try and the name kept, as the mistake is most often in the password.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Footer, Header, Input, Label, Static

from companion.app.screens.base import CompanionScreen
from companion.record import StorageError
from companion.record.staff import SignInFailed

CHECKING = "Signing in…"


class SignInScreen(CompanionScreen):
    """Name and password; Enter signs in and opens Today with the therapist's caseload."""

    HELP_TITLE: ClassVar[str] = "Sign in"

    def __init__(self) -> None:
        super().__init__()
        self.checking = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(classes="dialog sign-in"):
            yield Label("Sign in", classes="dialog-title")
            yield Static(
                "This practice's record is shared by its therapists: sign in to see your caseload.",
                classes="dialog-message",
            )
            yield Input(id="name", placeholder="Your name, as the practice's admin added it")
            yield Input(id="password", placeholder="Password", password=True)
            yield Static("", id="sign-in-message", classes="dialog-problem", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Companion"
        self.sub_title = "Sign in"
        self.query_one("#name", Input).focus()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        """Enter: on to the password while it is empty, else sign in (once at a time)."""
        name, password = self.query_one("#name", Input), self.query_one("#password", Input)
        if self.checking:
            return
        if not name.value.strip():
            name.focus()
        elif not password.value:
            password.focus()
        else:
            self.checking = True
            self.query_one("#sign-in-message", Static).update(CHECKING)
            self._sign_in(name.value, password.value)

    @work(thread=True, exclusive=True, group="sign-in")
    def _sign_in(self, name: str, password: str) -> None:
        try:
            who = self.services.record.staff.sign_in(name, password)
        except (SignInFailed, StorageError) as problem:  # the one message; or a locked or full disk's
            self.app.call_from_thread(self._failed, str(problem))
            return
        self.app.call_from_thread(self.companion.signed_in, who)

    def _failed(self, message: str) -> None:
        self.checking = False
        self.query_one("#sign-in-message", Static).update(message)
        password = self.query_one("#password", Input)
        password.value = ""
        password.focus()
