"""A second JACK client that plays note-ons at known frames: the reference for the MIDI-input timing tests.

The reference time of a note written at `offset` in the cycle starting at frame F is JACK's own
``jack_frames_to_time(F + offset)``, converted to the engine clock (perf_counter) with an offset measured
when the note is queued. This is deliberately separate code from `audio.midi_input`'s conversion, so a
mistake there cannot cancel out. JACK-Client does not wrap those libjack calls: they go through ctypes.

The sender runs in its own process (this module is its script): a Python process callback on JACK's
real-time thread can hang its process when the client is deactivated while another Python thread holds
the GIL (see `audio.midi_input`), and the test process has such threads. `benchmarks/analysis.py` and the
listening tests use the same sender; it joins the server the `jack_server` fixture (`tests/support/jackd.py`)
started, the one way tests and benchmarks start JACK.

Two ways to play: `play` sends hits as fast as asked, at random offsets inside the period (the timestamp
tests), and `play_at` writes each note at the frame of a given engine-clock time (a client playing with
known asynchronies against the metronome's beats).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import queue
import random
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class JackTime:
    """libjack's clock functions for one open client."""

    def __init__(self, client: Any) -> None:
        import jack

        lib = ctypes.PyDLL(ctypes.util.find_library("jack") or "libjack.so.0")
        self.frames_to_time = lib.jack_frames_to_time
        self.frames_to_time.restype = ctypes.c_uint64
        self.frames_to_time.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        self.get_time = lib.jack_get_time
        self.get_time.restype = ctypes.c_uint64
        self.handle = ctypes.c_void_p(int(jack._ffi.cast("uintptr_t", client._ptr)))

    def engine_minus_jack_s(self) -> float:
        """perf_counter - JACK time, from the tightest of several back-to-back readings."""
        readings = []
        for _ in range(16):
            before = time.perf_counter()
            jack_us = self.get_time()
            after = time.perf_counter()
            readings.append((after - before, (before + after) / 2 - jack_us / 1e6))
        return min(readings)[1]


FRAME_MASK = 0xFFFFFFFF


def serve(server: str, name: str) -> None:
    """The sender process. Commands on stdin: PLAY count spacing seed / PLAN count (then count lines
    `engine_time note velocity`) / CONNECT port; answers on stdout (DUE id time ..., then DONE xruns)."""
    import jack

    client = jack.Client(name, servername=server, no_start_server=True)
    port = client.midi_outports.register("out")
    clock = JackTime(client)
    plan: queue.SimpleQueue[tuple[int, int, float]] = queue.SimpleQueue()
    timed: deque[tuple[float, int, int, int]] = deque()  # (engine time, id, note, velocity), in time order
    due: dict[int, float] = {}
    offset_now = [clock.engine_minus_jack_s()]
    xruns = [0]

    def engine_time(frame: int) -> float:
        return clock.frames_to_time(clock.handle, frame & FRAME_MASK) / 1e6 + offset_now[0]

    def process(frames: int) -> None:
        port.clear_buffer()
        start = client.last_frame_time
        try:
            hit_id, offset, engine_minus_jack = plan.get_nowait()
        except queue.Empty:
            pass
        else:
            port.write_midi_event(offset, (0x90, hit_id % 128, 1 + hit_id // 128))
            frame = (start + offset) & FRAME_MASK
            due[hit_id] = clock.frames_to_time(clock.handle, frame) / 1e6 + engine_minus_jack
        if not timed:
            return
        cycle_start, cycle_end = engine_time(start), engine_time(start + frames)
        last = -1
        while timed and timed[0][0] < cycle_end:
            at, hit_id, note, velocity = timed.popleft()
            offset = round((at - cycle_start) / (cycle_end - cycle_start) * frames)
            offset = min(frames - 1, max(offset, last + 1, 0))  # a late note goes out at once
            port.write_midi_event(offset, (0x90, note, velocity))
            due[hit_id] = engine_time(start + offset)
            last = offset

    def xrun(delay: float) -> None:
        xruns[0] += 1

    client.set_process_callback(process)
    client.set_xrun_callback(xrun)
    client.activate()
    print("READY", port.name, flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        if command == "CONNECT":
            client.connect(port, args[0])
            print("OK", flush=True)
        elif command == "PLAY":
            count, spacing_s, seed = int(args[0]), float(args[1]), int(args[2])
            rng = random.Random(seed)
            first = len(due)
            for hit_id in range(first, first + count):
                plan.put((hit_id, rng.randrange(client.blocksize), clock.engine_minus_jack_s()))
                time.sleep(spacing_s)
            time.sleep(0.1)
            for hit_id in range(first, first + count):
                if hit_id in due:
                    print("DUE", hit_id, repr(due[hit_id]))
            print("DONE", xruns[0], flush=True)
        elif command == "PLAN":
            notes = [sys.stdin.readline().split() for _ in range(int(args[0]))]
            first = len(due)
            ids = range(first, first + len(notes))
            xruns_before = xruns[0]
            timed.extend(
                sorted((float(t), i, int(n), int(v)) for i, (t, n, v) in zip(ids, notes, strict=True))
            )
            while timed:  # the offset to the engine clock can slew: keep it fresh while playing
                time.sleep(0.1)
                offset_now[0] = clock.engine_minus_jack_s()
            time.sleep(0.1)
            for hit_id in ids:
                print("DUE", hit_id, repr(due[hit_id]))
            print("DONE", xruns[0] - xruns_before, flush=True)
    client.deactivate()
    client.close()


@dataclass(frozen=True)
class Played:
    """What `HitSender.play_at` played: each note's engine-clock time (in the order given), JACK xruns."""

    times: list[float]
    xruns: int


class HitSender:
    """Test-side handle on a sender process. Hit ids: note = id % 128, velocity = 1 + id // 128."""

    def __init__(self, server: str, name: str = "hit-sender") -> None:
        self._proc = subprocess.Popen(
            [sys.executable, __file__, server, name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self.port_name = self._answer().removeprefix("READY ")

    def _answer(self) -> str:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line:
            raise RuntimeError(f"the sender process ended (exit code {self._proc.wait()})")
        return line

    def _command(self, *words: object) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(" ".join(map(str, words)) + "\n")
        self._proc.stdin.flush()

    @staticmethod
    def hit_id(note: int, velocity: int) -> int:
        return note + 128 * (velocity - 1)

    def connect(self, destination: str) -> None:
        self._command("CONNECT", destination)
        assert self._answer() == "OK"

    def _due_times(self) -> tuple[dict[int, float], int]:
        due = {}
        while not (line := self._answer()).startswith("DONE"):
            _, hit_id, t = line.split()
            due[int(hit_id)] = float(t)
        return due, int(line.split()[1])

    def play(self, count: int, spacing_s: float = 0.013, seed: int = 0) -> dict[int, float]:
        """Play `count` hits, one every `spacing_s`; return each hit id's time on the engine clock."""
        self._command("PLAY", count, spacing_s, seed)
        return self._due_times()[0]

    def play_at(self, notes: Sequence[tuple[float, int, int]]) -> Played:
        """Play note-ons (engine-clock time, note, velocity) each at its frame; returns when all played.

        Times must lie ahead (a note already due goes out at once, and its played time says so)."""
        self._command("PLAN", len(notes))
        for at, note, velocity in notes:
            self._command(repr(at), note, velocity)
        due, xruns = self._due_times()
        first = min(due)
        return Played([due[first + i] for i in range(len(notes))], xruns)

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
