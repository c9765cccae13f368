"""What every Companion screen shares: typed access to the app and a layout that follows the window size.

Textual CSS has no media queries, so screens get `-narrow` (under 120 columns), `-medium` (120-159) and
`-short` (under 32 rows) classes on every resize; the stylesheet lays out the 80x24 terminal, a wide
terminal and the large tablet from them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from textual import events
from textual.screen import Screen
from textual.widgets import Footer

if TYPE_CHECKING:
    from companion.app.host import CompanionHost
    from companion.live.services import Services

NARROW_BELOW = 120
WIDE_FROM = 160
SHORT_BELOW = 32


class CompanionScreen(Screen[Any]):
    """A full screen of the app."""

    @property
    def companion(self) -> CompanionHost:
        return cast("CompanionHost", self.app)

    @property
    def services(self) -> Services:
        services = self.companion.services
        assert services is not None, "screens that need the record open only after it loaded"
        return services

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width, event.size.height)

    def on_screen_resume(self) -> None:
        self._fit(self.app.size.width, self.app.size.height)

    def _fit(self, width: int, height: int) -> None:
        self.set_class(width < NARROW_BELOW, "-narrow")
        self.set_class(NARROW_BELOW <= width < WIDE_FROM, "-medium")
        self.set_class(height < SHORT_BELOW, "-short")
        for footer in self.query(Footer):
            footer.compact = width < NARROW_BELOW
            footer.show_command_palette = width >= NARROW_BELOW  # ctrl+p is listed in help (?)
