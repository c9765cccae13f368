"""The client's hits from a MIDI drum pad or keyboard, timestamped on the engine clock.

Every note-on (velocity > 0) becomes a `Hit` whose `time_s` is on `time.perf_counter()` (the engine
clock). The MIDI system is the one mido would use: `MIDO_BACKEND` (e.g.
``mido.backends.rtmidi/UNIX_JACK``) or the `backend` argument; only mido's rtmidi backend gives message
timestamps, so input needs it (any of its APIs). Timestamps come from the most precise source available:

* **JACK** (rtmidi's UNIX_JACK API, with the JACK-Client package): a JACK client of Companion's reads each
  event's frame offset inside the process cycle and converts the frame with libjack's
  ``jack_frames_to_time``: sample-accurate. python-rtmidi's own JACK client cannot do this: it stamps
  ``jack_get_time()`` when its process callback runs and ignores the offset, so its times are up to one
  period early (2.7 ms at 128 frames / 48 kHz).
* **Other rtmidi APIs** (ALSA, CoreMIDI, WinMM) or ``timestamps=Timestamps.BACKEND``: the backend's
  per-message delta times, anchored to perf_counter by `DeltaAnchor`, so late delivery does not move a hit.

Why the JACK reader runs in a helper process, and how its clock is matched to perf_counter's:
`audio.jack_midi_reader`.

Hits go to a `queue.SimpleQueue` (a MIDI thread never blocks) and, when `on_hit` is given, to it from a
delivery thread. If the device disappears the input says so through `on_status`, and picks it up again
by itself when it returns.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from enum import StrEnum

import mido

from audio.jack_midi_reader import JackSource
from audio.midi_hits import CHECK_INTERVAL_S, Hit, HitSource, MidiInputError, input_backend
from audio.rtmidi_source import RtMidiSource

log = logging.getLogger(__name__)


class Timestamps(StrEnum):
    """Which timestamp source to use (see the module docstring)."""

    BEST = "best"
    """JACK frame times on JACK, the backend's delta times elsewhere."""
    BACKEND = "backend"
    """python-rtmidi's delta times, also on JACK (through rtmidi's own JACK client)."""


def _jack_client_available() -> bool:
    try:
        import jack  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


class MidiInput:
    """Listens to one MIDI input and delivers every note-on as a `Hit` on the engine clock.

    `port`: the device to listen to, by name or any unique part of it (None = the first one found).
    `virtual`: instead, create an input port with this name for other programs or ports to connect to.
    `backend`: a mido backend name such as ``mido.backends.rtmidi/UNIX_JACK``; default `MIDO_BACKEND`.
    `on_hit` receives each hit on a delivery thread; without it, read hits with `get`.
    `on_status` receives plain-language messages when the device is lost or comes back.
    `timestamps` picks the timestamp source; the default is the most precise one available.
    """

    def __init__(
        self,
        port: str | None = None,
        *,
        virtual: str | None = None,
        backend: str | None = None,
        client_name: str = "Companion",
        on_hit: Callable[[Hit], None] | None = None,
        on_status: Callable[[str], None] | None = None,
        timestamps: Timestamps = Timestamps.BEST,
    ) -> None:
        if port is not None and virtual is not None:
            raise ValueError("give either a port to listen to or a virtual port name, not both")
        chosen = mido.Backend(input_backend(backend))
        if chosen.name != "mido.backends.rtmidi":
            raise MidiInputError(
                f"MIDI input needs mido's rtmidi backend for timestamps, not {chosen.name}: set "
                "MIDO_BACKEND=mido.backends.rtmidi (optionally /LINUX_ALSA, /UNIX_JACK, ...)"
            )
        self._hits: queue.SimpleQueue[Hit | None] = queue.SimpleQueue()
        self._source: HitSource
        if timestamps is Timestamps.BEST and chosen.api == "UNIX_JACK" and _jack_client_available():
            self._source = JackSource(port, virtual, client_name, self._hits.put)
        else:
            self._source = RtMidiSource(chosen.api, port, virtual, client_name, self._hits.put)
        self._on_hit = on_hit
        self._on_status = on_status
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connected = False
        self.status = "closed"

    @property
    def name(self) -> str:
        """The port listened to (or the virtual port created)."""
        return self._source.name

    @property
    def timing(self) -> str:
        """Where the timestamps come from, hence how precise they are."""
        return self._source.timing

    @property
    def connected(self) -> bool:
        return self._connected

    def open(self) -> MidiInput:
        """Open the port (raises `MidiInputError` with the cause and the fix) and start listening."""
        self._source.open()
        self._stop.clear()
        self._connected = True
        self.status = f"listening to {self.name}"
        workers = [self._watch] if self._on_hit is None else [self._watch, self._deliver]
        self._threads = [
            threading.Thread(target=w, name=f"midi-in{w.__name__}", daemon=True) for w in workers
        ]
        for thread in self._threads:
            thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._hits.put(None)  # wakes the delivery thread
        for thread in self._threads:
            thread.join()
        self._threads = []
        self._source.close()
        self._connected = False
        self.status = "closed"

    def __enter__(self) -> MidiInput:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, timeout: float | None = None) -> Hit | None:
        """The next hit, waiting up to `timeout` seconds; None if none came (only without `on_hit`)."""
        try:
            return self._hits.get(timeout=timeout)
        except queue.Empty:
            return None

    def _report(self, message: str) -> None:
        self.status = message
        if self._on_status is None:
            log.warning("%s", message)
            return
        try:
            self._on_status(message)
        except Exception:
            log.exception("MIDI input status handler failed")

    def _deliver(self) -> None:
        assert self._on_hit is not None
        while (hit := self._hits.get()) is not None:
            try:
                self._on_hit(hit)
            except Exception as exc:
                self._report(f"a hit could not be processed ({exc!r}); later hits are still delivered")

    def _watch(self) -> None:
        """Notice a lost device and say so; say so again when it is back."""
        while not self._stop.wait(CHECK_INTERVAL_S):
            try:
                now = self._source.check()
            except Exception:  # keep watching whatever happened: this thread is what reconnects
                log.exception("checking MIDI input %s failed", self.name)
                now = False
            if now == self._connected:
                continue
            self._connected = now
            if now:
                self._report(f"MIDI input {self.name} is back: hits are recorded again")
            else:
                self._report(
                    f"MIDI input {self.name} disappeared (unplugged, switched off or its program "
                    "closed): reconnect it and Companion picks it up again by itself; hits meanwhile "
                    "are not recorded"
                )
