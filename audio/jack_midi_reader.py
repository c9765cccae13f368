"""JACK MIDI input read in a helper process, frame-accurate, for `audio.midi_input.MidiInput`.

Why the JACK reader runs in a helper process (``python -m audio.jack_midi_reader --jack-reader``): JACK calls
the process callback, Python code here, on its real-time thread, and jack2 stops that thread with
``pthread_cancel`` when the client is deactivated. If the thread is waiting for the GIL at that moment,
because another Python thread (the Textual app, say) holds it, it dies owning the GIL's mutex and the
whole program hangs (reproduced: one deactivation with a busy thread suffices). In the helper nothing else
competes for the GIL, and a busy app can neither delay the callback nor hang with it. For the same reason
the rtmidi reader polls instead of registering a Python callback on rtmidi's thread.

JACK's clock is not perf_counter's: jack2 on Linux reads CLOCK_MONOTONIC_RAW, perf_counter is
CLOCK_MONOTONIC. They differ by an offset that NTP slewing changes slowly, so the helper re-measures it
twice a second. Measured accuracy: docs/benchmarks.md, "Listening".
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from audio.jack_clock import JackClock
from audio.midi_hits import CHECK_INTERVAL_S, Emit, Hit, MidiInputError, input_port, note_on

READER_START_TIMEOUT_S = 10.0
READER_RESPAWN_INTERVAL_S = 2.0


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
            note = note_on(bytes(data))
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
            source = input_port(source, [p.name for p in client.get_ports(is_midi=True, is_output=True)])
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


class JackSource:
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
            [sys.executable, "-m", "audio.jack_midi_reader", "--jack-reader", *self._args],
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


if __name__ == "__main__" and sys.argv[1:2] == ["--jack-reader"]:
    _serve_jack_reader(*sys.argv[2:5])
