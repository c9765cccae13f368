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

Why the JACK reader runs in a helper process (``python -m audio.midi_input --jack-reader``): JACK calls
the process callback, Python code here, on its real-time thread, and jack2 stops that thread with
``pthread_cancel`` when the client is deactivated. If the thread is waiting for the GIL at that moment,
because another Python thread (the Textual app, say) holds it, it dies owning the GIL's mutex and the
whole program hangs (reproduced: one deactivation with a busy thread suffices). In the helper nothing else
competes for the GIL, and a busy app can neither delay the callback nor hang with it. For the same reason
the rtmidi reader polls instead of registering a Python callback on rtmidi's thread.

JACK's clock is not perf_counter's: jack2 on Linux reads CLOCK_MONOTONIC_RAW, perf_counter is
CLOCK_MONOTONIC. They differ by an offset that NTP slewing changes slowly, so the helper re-measures it
twice a second. Measured accuracy: see the README, "Listening to the client".

Hits go to a `queue.SimpleQueue` (a MIDI thread never blocks) and, when `on_hit` is given, to it from a
delivery thread. If the device disappears the input says so through `on_status`, and picks it up again
by itself when it returns.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import queue
import select
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, Protocol

import mido
import rtmidi

from audio.jack_clock import JackClock
from audio.midi_ports import PortNotFound, resolve_port

log = logging.getLogger(__name__)

CHECK_INTERVAL_S = 0.5
POLL_INTERVAL_S = 0.001
READER_START_TIMEOUT_S = 10.0
READER_RESPAWN_INTERVAL_S = 2.0
NOTE_ON = 0x90


@dataclass(frozen=True)
class Hit:
    """One note-on from the client: when (engine clock, seconds), which note, how hard."""

    time_s: float
    note: int
    velocity: int


class Timestamps(StrEnum):
    """Which timestamp source to use (see the module docstring)."""

    BEST = "best"
    """JACK frame times on JACK, the backend's delta times elsewhere."""
    BACKEND = "backend"
    """python-rtmidi's delta times, also on JACK (through rtmidi's own JACK client)."""


class MidiInputError(RuntimeError):
    """The MIDI input cannot be opened; the message names the cause and the fix."""


Emit = Callable[[Hit], None]


def _note_on(data: Sequence[int] | bytes) -> tuple[int, int] | None:
    """(note, velocity) of a note-on with velocity > 0 (velocity 0 is a note-off by convention)."""
    if len(data) >= 3 and data[0] & 0xF0 == NOTE_ON and data[2] > 0:
        return data[1], data[2]
    return None


def _input_port(wanted: str | None, available: Sequence[str]) -> str:
    """The input port `resolve_port` finds, or a MidiInputError saying what to plug in or type."""
    try:
        return resolve_port(wanted, available)
    except PortNotFound as missing:
        listing = ", ".join(repr(name) for name in available) or "none"
        if wanted is None:
            raise MidiInputError(
                "no MIDI input found: plug in and switch on the drum pad or keyboard, "
                "or open a virtual port and connect the instrument to it"
            ) from None
        if missing.matches:
            raise MidiInputError(
                f"MIDI input {wanted!r} matches several ports ({listing}): give more of the name"
            ) from None
        raise MidiInputError(
            f"no MIDI input {wanted!r}: check the drum pad or keyboard is plugged in and switched on. "
            f"Ports available: {listing}"
        ) from None


class DeltaAnchor:
    """Turns a backend's per-message delta times into engine-clock times, without drift.

    Summed deltas give each message's time on the backend's clock, which ticks at the engine clock's
    rate but from an unknown origin. A message reaches Python at backend time + offset + a delivery delay
    that is never negative, so the smallest (arrival - backend time) is the best estimate of the offset.
    Taking that minimum over a sliding window (not all time) follows a slow rate difference between the
    two clocks instead of letting it accumulate.
    """

    def __init__(self, window_s: float = 30.0) -> None:
        self.window_s = window_s
        self._backend_s = 0.0
        self._offsets: deque[tuple[float, float]] = deque()  # (arrival, offset), offsets increasing

    def stamp(self, delta_s: float, arrival_s: float) -> float:
        """Engine-clock time of a message that came `delta_s` after the previous one and arrived now."""
        self._backend_s += delta_s
        offset = arrival_s - self._backend_s
        while self._offsets and self._offsets[-1][1] >= offset:
            self._offsets.pop()
        self._offsets.append((arrival_s, offset))
        while self._offsets[0][0] < arrival_s - self.window_s:
            self._offsets.popleft()
        return self._backend_s + self._offsets[0][1]


class _Source(Protocol):
    """One connection to a MIDI system, able to notice a lost device and to recover it."""

    name: str
    timing: str

    def open(self) -> None: ...
    def check(self) -> bool:
        """True while hits can arrive; reconnects a device that came back."""
        ...

    def close(self) -> None: ...


# -- JACK: the helper process -------------------------------------------------------------------------


class _ReaderOutput:
    """The helper's stdout: hit lines from the real-time thread never block, control lines always land."""

    def __init__(self) -> None:
        self.fd = sys.stdout.fileno()
        os.set_blocking(self.fd, False)

    def hit(self, time_s: float, note: int, velocity: int) -> None:
        with contextlib.suppress(BlockingIOError):  # the app is not reading: drop rather than stall JACK
            os.write(self.fd, b"H %.9f %d %d\n" % (time_s, note, velocity))

    def control(self, kind: str, text: str = "") -> None:
        data = f"{kind} {text}".strip().encode() + b"\n"
        while data:
            try:
                data = data[os.write(self.fd, data) :]
            except BlockingIOError:
                time.sleep(0.01)


def _serve_jack_reader(client_name: str, label: str, source: str) -> None:
    """Helper-process main: read a JACK MIDI port; stdout gets ``H time note velocity`` per hit, ``R name``
    when ready, ``E message`` on failure, ``L``/``B`` when the source port goes and comes back. EOF on
    stdin (Companion closed the input, or exited) ends it."""
    import jack

    out = _ReaderOutput()
    try:
        client = jack.Client(client_name, no_start_server=True)
    except jack.JackError as exc:
        out.control(
            "E",
            f"cannot reach the JACK server ({exc}): start JACK (jackd or QjackCtl), "
            "or choose another MIDI system with MIDO_BACKEND",
        )
        return
    inport = client.midi_inports.register(label)
    clock = JackClock(client)
    server_gone = threading.Event()

    def process(frames: int) -> None:
        cycle_start = client.last_frame_time
        for offset, data in inport.incoming_midi_events():
            note = _note_on(bytes(data))
            if note is not None:
                out.hit(clock.seconds(cycle_start + offset), *note)

    def connected() -> bool:
        if source in {p.name for p in inport.connections}:
            return True
        try:
            client.connect(source, inport)
        except jack.JackError:
            return False
        return True

    client.set_process_callback(process)
    client.set_shutdown_callback(lambda status, reason: server_gone.set())
    client.activate()
    if source:
        try:
            source = _input_port(source, [p.name for p in client.get_ports(is_midi=True, is_output=True)])
        except MidiInputError as exc:
            out.control("E", str(exc))
            client.deactivate()
            client.close()
            return
        client.connect(source, inport)
    out.control("R", source or inport.name)
    was_connected = True
    while not server_gone.is_set():
        ready, _, _ = select.select([sys.stdin], [], [], CHECK_INTERVAL_S)
        if ready and not os.read(sys.stdin.fileno(), 1024):
            break
        clock.offset_s = clock.measure_offset()
        if source and (now := connected()) != was_connected:
            out.control("B" if now else "L")
            was_connected = now
    if server_gone.is_set():
        os._exit(0)  # closing a client of a dead server can block: just go
    client.deactivate()
    client.close()


class _JackSource:
    """Frame-accurate JACK input through the helper process."""

    timing = "sample-accurate (JACK frame times)"

    def __init__(self, port: str | None, virtual: str | None, client_name: str, emit: Emit) -> None:
        self._args = [client_name, virtual or "input", port or ""]
        self._emit = emit
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._connected = False
        self._last_spawn = -math.inf
        self.name = ""

    def open(self) -> None:
        self._last_spawn = time.monotonic()
        search_path = [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, search_path)))
        proc = subprocess.Popen(
            [sys.executable, "-m", "audio.midi_input", "--jack-reader", *self._args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # libjack's chatter would garble the terminal app
            env=env,
        )
        assert proc.stdout is not None
        first: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._reader = threading.Thread(
            target=self._read, args=(proc.stdout, first), name="midi-in-jack-reader", daemon=True
        )
        self._reader.start()
        try:
            kind, _, text = first.get(timeout=READER_START_TIMEOUT_S).partition(" ")
        except queue.Empty:
            kind, text = "E", f"the JACK reader did not start within {READER_START_TIMEOUT_S:g} s"
        if kind != "R":
            self._stop(proc)
            self._reader.join()
            raise MidiInputError(text or "the JACK reader stopped before it was ready")
        self._proc, self.name, self._connected = proc, text, True

    def _read(self, stream: IO[bytes], first: queue.SimpleQueue[str]) -> None:
        for raw in stream:
            line = raw.decode(errors="replace").rstrip("\n")
            if line.startswith("H "):
                _, t, note, velocity = line.split()
                self._emit(Hit(float(t), int(note), int(velocity)))
            elif line in ("L", "B"):
                self._connected = line == "B"
            else:
                first.put(line)
        first.put("E the JACK reader stopped (JACK server gone?)")

    def check(self) -> bool:
        if self._proc is not None and self._proc.poll() is None:
            return self._connected
        if time.monotonic() - self._last_spawn < READER_RESPAWN_INTERVAL_S:
            return False
        try:
            self.close()
            self.open()
        except MidiInputError:
            return False
        return True

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.close()  # EOF: the helper deactivates its client and exits
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()

    def close(self) -> None:
        if self._proc is not None:
            self._stop(self._proc)
            self._proc = None
        if self._reader is not None:
            self._reader.join()
            self._reader = None


# -- rtmidi: polled --------------------------------------------------------------------------------------


class _RtMidiSource:
    """A python-rtmidi input, polled from a thread of ours and timed by the backend's delta times."""

    timing = "backend delta times anchored to perf_counter (one JACK period on rtmidi's JACK API)"

    def __init__(
        self, api: str | None, port: str | None, virtual: str | None, client_name: str, emit: Emit
    ) -> None:
        self._api, self._wanted, self._virtual = api, port, virtual
        self._client_name, self._emit = client_name, emit
        self._rt: Any = None
        self._probe: Any = None
        self._port_open = False
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._anchor = DeltaAnchor()
        self.name = ""

    def _midi_in(self, name: str) -> Any:
        api_id = getattr(rtmidi, f"API_{self._api}", None) if self._api else rtmidi.API_UNSPECIFIED
        if api_id is None:
            raise MidiInputError(
                f"unknown MIDI API {self._api!r} in MIDO_BACKEND: use e.g. LINUX_ALSA or UNIX_JACK"
            )
        try:
            return rtmidi.MidiIn(rtapi=api_id, name=name, queue_size_limit=4096)
        except (rtmidi.RtMidiError, RuntimeError) as exc:
            raise MidiInputError(
                f"cannot open the {self._api or 'default'} MIDI system ({exc}): start it (e.g. JACK) "
                "or choose another with MIDO_BACKEND"
            ) from exc

    def open(self) -> None:
        self._rt = self._midi_in(self._client_name)
        try:
            if self._virtual is not None:
                try:
                    self._rt.open_virtual_port(self._virtual)
                except NotImplementedError as exc:
                    raise MidiInputError(
                        "this MIDI system has no virtual ports (Windows): create a loopMIDI port and "
                        "choose it by name"
                    ) from exc
                self.name = self._virtual
            else:
                self.name = _input_port(self._wanted, self._rt.get_ports())
                self._probe = self._midi_in(f"{self._client_name} probe")
                self._open_port()
            self._rt.ignore_types(sysex=False, timing=False, active_sense=False)  # all carry deltas
        except BaseException:
            self.close()
            raise
        self._port_open = True
        self._stop.clear()
        self._poller = threading.Thread(target=self._poll, name="midi-in-rtmidi-poll", daemon=True)
        self._poller.start()

    def _open_port(self) -> None:
        self._rt.open_port(self._rt.get_ports().index(self.name))
        self._anchor = DeltaAnchor()  # deltas restart with the port

    def _poll(self) -> None:
        while not self._stop.is_set():
            message = self._rt.get_message()
            if message is None:
                time.sleep(POLL_INTERVAL_S)
                continue
            data, delta = message
            stamped = self._anchor.stamp(delta, time.perf_counter())
            note = _note_on(data)
            if note is not None:
                self._emit(Hit(stamped, *note))

    def check(self) -> bool:
        if self._rt is None:  # the MIDI system itself was lost: start afresh
            try:
                self.open()
            except MidiInputError:
                return False
            return True
        if self._probe is None:
            return True  # a virtual port cannot be unplugged
        try:
            present = self.name in self._probe.get_ports()
            if present and not self._port_open:
                self._open_port()
            elif not present and self._port_open:
                self._rt.close_port()
        except (rtmidi.RtMidiError, RuntimeError, ValueError):  # e.g. the JACK server stopped
            self.close()
            return False
        self._port_open = present
        return present

    def close(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join()
            self._poller = None
        try:
            for rt in (self._rt, self._probe):
                if rt is not None:
                    rt.close_port()
                    rt.delete()
        finally:
            self._rt = self._probe = None
            self._port_open = False


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
        chosen = mido.Backend(backend)
        if chosen.name != "mido.backends.rtmidi":
            raise MidiInputError(
                f"MIDI input needs mido's rtmidi backend for timestamps, not {chosen.name}: set "
                "MIDO_BACKEND=mido.backends.rtmidi (optionally /LINUX_ALSA, /UNIX_JACK, ...)"
            )
        self._hits: queue.SimpleQueue[Hit | None] = queue.SimpleQueue()
        self._source: _Source
        if timestamps is Timestamps.BEST and chosen.api == "UNIX_JACK" and _jack_client_available():
            self._source = _JackSource(port, virtual, client_name, self._hits.put)
        else:
            self._source = _RtMidiSource(chosen.api, port, virtual, client_name, self._hits.put)
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


if __name__ == "__main__" and sys.argv[1:2] == ["--jack-reader"]:
    _serve_jack_reader(*sys.argv[2:5])
