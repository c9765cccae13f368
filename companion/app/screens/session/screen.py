"""The live session screen: the plan, the quick-tap pad, running tallies, the live log and the metronome.

The screen only lays these out and starts and stops its parts; each part declares its own keys and
actions in its module (taps, metronome, cues, outputs, listening), and help (?) and the command palette
list them from there.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Static

from companion.app.screens.session.cue_keys import CueKeys
from companion.app.screens.session.listening_keys import ListeningKeys
from companion.app.screens.session.metronome_keys import OutputKeys
from companion.app.screens.session.tap_keys import TapKeys
from companion.app.widgets.client_bar import ClientBar
from companion.app.widgets.metronome_panel import MetronomePanel
from companion.app.widgets.plan_view import PlanView
from companion.app.widgets.session_log import SessionLog
from companion.app.widgets.sync_strip import SyncStrip
from companion.app.widgets.tally_list import ObjectiveBar, TallyList
from companion.app.widgets.tap_pad import TapPad


class LiveSessionScreen(ListeningKeys, OutputKeys, CueKeys, TapKeys):
    """Take data during a session: one key per tap, the log and tallies update as soon as it is saved.

    The order of the bases is the order of the keys in the footer and in help (Textual reads the bindings
    from the last base to the first): taps, metronome, cues, outputs, listening.
    """

    HELP_TITLE = "live session"
    AUTO_FOCUS = ""  # nothing holds focus: every key reaches the screen's bindings

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="session-body"):
            yield PlanView(
                self.live.plan,
                empty="No intervention chosen. Press i to choose one (it is logged).",
                tempo_hint="p loads it",
                id="plan",
            )
            with Vertical(id="center"):
                if self.live.is_group:
                    yield ClientBar(self.live.clients, id="client-bar")
                yield ObjectiveBar(id="objective")
                yield TapPad(self.live.prompt_levels, id="pad")
                yield TallyList(id="tallies")
                yield SyncStrip(id="sync-strip")
                yield Static("", id="pending-bar", markup=False)
                yield SessionLog(id="log")
            yield MetronomePanel(id="metronome")
        yield Footer()

    def on_mount(self) -> None:
        self._show_session()
        self._follow_engine()
        self._start_listening_control()

    def on_unmount(self) -> None:
        self._forget_engine()
        self.listening.stop()
        self.writer.close()
