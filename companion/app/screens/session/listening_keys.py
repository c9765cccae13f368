"""The listening keys of the live session: listening to the client on a MIDI drum or keyboard (issue 6),
choosing the input, and adaptive tempo (off, follow the client, or step up once entrained).

The MIDI and listening threads only post messages here; the sync strip shows what listening hears.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message

from audio.cadence import AdaptiveMode
from audio.midi_hits import MidiInputError
from companion.app.screens.dialogs import Pick
from companion.app.screens.session.metronome_keys import MetronomeKeys, MidiStep
from companion.app.widgets.sync_strip import SyncStrip
from companion.live.listening_control import ListeningControl, SessionSink
from companion.live.listening_record import BlockReport


class ListeningChanged(Message):
    """Listening has news for the strip (posted from a MIDI or listening thread; never blocks them)."""


class ListeningDone(Message):
    """Listening started or stopped in a worker: what to tell the therapist, or why it could not."""

    def __init__(self, text: str, error: str = "") -> None:
        super().__init__()
        self.text = text
        self.error = error


class ListeningKeys(MetronomeKeys):
    """Listening to the client; what it hears can set the tempo (adaptive) or count as cadence steps."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "listen", "Listen to the client (MIDI) start/stop", show=False),
        Binding("S", "choose_input", "Choose the MIDI input to listen to", show=False, key_display="S"),
        Binding(
            "a",
            "adaptive",
            "Adaptive tempo: off/follow/entrain",
            show=False,
            tooltip="Adaptive tempo (off by default): follow the client, or step up once entrained",
        ),
    ]

    def _start_listening_control(self) -> None:
        """The control that listens on MIDI: its blocks are logged through this screen's writer, a hit
        while the metronome is stopped is a tap-tempo step."""
        self.listening = ListeningControl(
            self.metronome,
            SessionSink(self.live, self.submit),
            changed=lambda: self.post_message(ListeningChanged()),
            on_not_saved=self._block_not_saved,
            on_step=lambda time_s: self.post_message(MidiStep(time_s)),
        )

    def action_listen(self) -> None:
        """Start or stop listening; the first time, the MIDI input is chosen (or the one there is)."""
        listening = self.listening
        if listening.listening:
            self.run_worker(self._stop_listening, thread=True, exclusive=True, group="listening")
        elif listening.port is not None:
            self._start_listening(listening.port)
        else:
            self.action_choose_input(only_one_starts=True)

    def action_choose_input(self, only_one_starts: bool = False) -> None:
        try:
            inputs = self.listening.inputs()
        except MidiInputError as problem:
            self.notify(str(problem), title="Not listening", severity="warning", timeout=10)
            return
        if only_one_starts and len(inputs) == 1:
            self._start_listening(inputs[0])
            return
        current = inputs.index(self.listening.port) if self.listening.port in inputs else 0

        def chosen(port: str | None) -> None:
            if port is not None:
                self._start_listening(port)

        self.app.push_screen(
            Pick("MIDI input to listen to", [(name, name) for name in inputs], current, "digit or Enter"),
            chosen,
        )

    def _start_listening(self, port: str) -> None:
        def start() -> None:
            try:
                text = self.listening.start(port)
            except MidiInputError as problem:
                self.post_message(ListeningDone("", str(problem)))
                return
            self.post_message(ListeningDone(text))

        self.run_worker(start, thread=True, exclusive=True, group="listening")

    def _stop_listening(self) -> None:
        report = self.listening.stop()
        last = f" The last block: {report.describe()}." if report is not None else ""
        self.post_message(ListeningDone(f"Stopped listening.{last}"))

    def action_adaptive(self) -> None:
        settings = self.listening.next_adaptive()
        if settings.mode is AdaptiveMode.OFF:
            self.notify("Adaptive tempo off: the tempo stays where you set it.", timeout=4)
        else:
            self.notify(self.listening.view().adaptive, title="Adaptive tempo on", timeout=6)

    def _block_not_saved(self, report: BlockReport) -> None:
        """From the listening thread: a block that did not reach the disk is said at once."""
        self.post_message(ListeningDone("", report.describe()))

    @on(ListeningDone)
    def _listening_done(self, message: ListeningDone) -> None:
        if message.error:
            self.notify(message.error, title="Listening", severity="warning", timeout=10)
        elif message.text:
            self.notify(message.text, title="Listening", timeout=6)
        self._show_listening()

    @on(ListeningChanged)
    def _show_listening(self) -> None:
        self.query_one(SyncStrip).show(self.listening.view())
        if self.listening.adaptive_mode is not AdaptiveMode.OFF:
            self._metronome_changed()
