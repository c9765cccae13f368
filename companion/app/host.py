"""What the screens may ask of the app: the services, "now", the metronome, disk work off the UI thread,
and moving between screens.

Screens depend on this protocol, not on `CompanionApp`: the app opens the screens, so a screen that
imported the app would close an import circle (app -> screens -> app).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from companion.live.metronome_control import MetronomeControl
    from companion.live.services import Services
    from companion.live.session_controller import SessionRequest
    from companion.live.wall_clock import Clock
    from companion.record.access import SignedIn

T = TypeVar("T")


class CompanionHost(Protocol):
    clock: Clock
    services: Services | None

    @property
    def metronome(self) -> MetronomeControl: ...

    def run_io(
        self, work: Callable[[], T], then: Callable[[T], Any] | None = None, failure: str = ""
    ) -> None: ...

    def start_session(self, request: SessionRequest) -> None: ...

    def resume_session(self, session_id: int) -> None: ...

    def open_note(self, session_id: int, replace_screen: bool = False) -> None: ...

    def back_to_today(self) -> None: ...

    @property
    def record_open(self) -> bool: ...

    def signed_in(self, who: SignedIn) -> None: ...

    def action_review(self, client_id: int | None = None) -> None: ...
