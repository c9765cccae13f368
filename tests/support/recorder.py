"""The tests' independent witness: a second JACK client that records what the engine plays.

`JackRecorder` records in the process that makes it; `RecorderProcess` runs one in a process of its own
(`python -m support.recorder record ...`, with `tests/` on its path), so nothing in the measured process
can disturb it, and reads the take back as a `RecordedTake`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from support.witness import RecordedTake, ServerLog, Witness

TESTS_DIR = Path(__file__).resolve().parents[1]
"""Put on the recorder process's path, so it can import `support`."""


class JackRecorder(Witness):
    """A second JACK client that records what the engine plays, as the tests' independent witness.

    Audio from `in` goes into a preallocated buffer indexed by absolute JACK frame; MIDI from `midi_in`
    is kept with its absolute frame (period start + the event's offset). `to_perf(frame)` turns a frame
    into the engine clock (`time.perf_counter()`), from perf_counter read at the start of every cycle.
    """

    def __init__(self, name: str = "recorder", seconds: float = 30.0) -> None:
        import jack
        import numpy as np

        self.client = jack.Client(name, no_start_server=True)
        self.samplerate = self.client.samplerate
        self.audio_in = self.client.inports.register("in")
        self.midi_in = self.client.midi_inports.register("midi_in")
        self.audio = np.zeros(int(seconds * self.samplerate), dtype=np.float32)
        self.audio.fill(0.0)  # touch every page now: the callback must never wait on a page fault
        self.first_frame: int | None = None
        self.midi: list[tuple[int, bytes]] = []
        self._next_frame: int | None = None
        self._closed = False
        self.cycles = np.zeros((int(seconds * self.samplerate / self.client.blocksize) + 64, 2))
        self._cycle_count = 0
        self._xruns = self._gaps = 0  # as counted by the callbacks
        self._xrun_frames: list[int] = []
        self._settled = (0, 0, 0)  # cycle index, xruns and gaps when the take began (see `settle`)
        self._server_log = ServerLog()
        self.server_said: list[str] = []
        self.client.set_xrun_callback(self._xrun)
        self.client.set_process_callback(self._process)
        self.client.activate()

    def _xrun(self, delay: float) -> None:
        self._xruns += 1
        self._xrun_frames.append(self.client.frame_time)

    def settle(self, seconds: float = 0.1) -> None:
        """Begin the take once connected: wait `seconds`, then count xruns and missed cycles, and fit the
        frame clock, only from here. Connecting changes the JACK graph, which may cost the new client a
        cycle (or the dummy driver its timeline) before anything is played; that is not part of a take."""
        time.sleep(seconds)
        self._settled = (self._cycle_count, self._xruns, self._gaps)
        self._server_log = ServerLog()

    @property
    def xruns(self) -> int:  # type: ignore[override]
        """JACK xruns (anywhere in the graph) since the take began."""
        return self._xruns - self._settled[1]

    @property
    def gaps(self) -> int:  # type: ignore[override]
        """Process cycles this recorder missed since the take began."""
        return self._gaps - self._settled[2]

    @property
    def xrun_frames(self) -> list[int]:  # type: ignore[override]
        """Where each xrun since the take began was noticed (see `Witness.xrun_frames`)."""
        return self._xrun_frames[self._settled[1] :]

    def _process(self, frames: int) -> None:
        now = self.client.last_frame_time
        if self._cycle_count < len(self.cycles):
            self.cycles[self._cycle_count] = (now, time.perf_counter())
            self._cycle_count += 1
        else:
            self._gaps += 1  # recording for longer than asked: the timeline is no longer kept
        if self.first_frame is None:
            self.first_frame = now
        if self._next_frame is not None and now != self._next_frame:
            self._gaps += 1
        self._next_frame = now + frames
        start = now - self.first_frame
        if start + frames <= len(self.audio):
            self.audio[start : start + frames] = self.audio_in.get_array()
        for offset, data in self.midi_in.incoming_midi_events():
            self.midi.append((now + offset, bytes(data)))

    def recorded_cycles(self) -> Any:
        return self.cycles[self._settled[0] : self._cycle_count]

    def connect_audio(self, source: str) -> None:
        self.client.connect(source, self.audio_in)

    def connect_midi(self, source: str) -> None:
        self.client.connect(source, self.midi_in)

    def close(self) -> None:
        """Stop recording (the data stays). Close before closing the engine's MIDI port: python-rtmidi
        holds the GIL while JACK waits for every client, this one's Python callback included."""
        if not self._closed:
            self._closed = True
            self.client.deactivate()
            self.client.close()
            self.server_said = self._server_log.since_start()


class RecorderProcess:
    """A JackRecorder in its own process, so nothing in the measured process (a thread hogging the GIL,
    a busy UI) can disturb the witness. The take begins once its ports are connected and settled (see
    `JackRecorder.settle`); results are read back after `stop()`. Used by the tests and the benchmarks."""

    def __init__(self, name: str, seconds: float, audio: str | None = None, midi: str | None = None) -> None:
        self._out = Path(tempfile.mkdtemp(prefix="recorder-")) / "take.npz"
        args = [
            sys.executable,
            "-m",
            "support.recorder",
            "record",
            name,
            str(seconds),
            str(self._out),
            audio or "",
            midi or "",
        ]
        path = os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self._proc.stdout is not None
        if self._proc.stdout.readline().strip() != "recording":
            raise RuntimeError(f"recorder process failed to start (exit {self._proc.wait()})")

    def stop(self) -> RecordedTake:
        assert self._proc.stdin is not None
        self._proc.stdin.write("stop\n")
        self._proc.stdin.close()
        if self._proc.wait(timeout=30) != 0:
            raise RuntimeError("recorder process failed")
        import numpy as np

        with np.load(self._out) as stored:
            data = dict(stored)
        shutil.rmtree(self._out.parent, ignore_errors=True)
        return RecordedTake(
            audio=data["audio"],
            first_frame=int(data["first_frame"]),
            midi=[
                (int(f), bytes(b[:n]))
                for f, b, n in zip(data["midi_frames"], data["midi_bytes"], data["midi_sizes"], strict=True)
            ],
            cycles=data["cycles"],
            samplerate=int(data["samplerate"]),
            xruns=int(data["xruns"]),
            gaps=int(data["gaps"]),
            server_said=[str(line) for line in data["server_said"]],
            xrun_frames=[int(f) for f in data["xrun_frames"]],
        )


def _record_main(name: str, seconds: str, out: str, audio: str, midi: str) -> None:
    import gc

    import numpy as np

    # No garbage collection while recording: one ran in the process callback every half second or so
    # (0.7-5 ms on a busy machine) and made the witness miss cycles. The callback makes no reference
    # cycles, so reference counting frees all it allocates.
    gc.collect()
    gc.freeze()
    gc.disable()
    rec = JackRecorder(name, seconds=float(seconds))
    if audio:
        rec.connect_audio(audio)
    if midi:
        rec.connect_midi(midi)
    rec.settle()
    print("recording", flush=True)
    sys.stdin.readline()
    rec.close()
    sizes = [len(b) for _, b in rec.midi]
    padded = np.zeros((len(rec.midi), max(sizes, default=1)), dtype=np.uint8)
    for row, (_, data) in enumerate(rec.midi):
        padded[row, : len(data)] = list(data)
    np.savez(
        out,
        audio=rec.audio,
        first_frame=rec.first_frame or 0,
        midi_frames=np.array([f for f, _ in rec.midi], dtype=np.int64),
        midi_bytes=padded,
        midi_sizes=np.array(sizes, dtype=np.int64),
        cycles=rec.recorded_cycles(),
        samplerate=rec.samplerate,
        xruns=rec.xruns,
        gaps=rec.gaps,
        server_said=np.array(rec.server_said, dtype=str),
        xrun_frames=np.array(rec.xrun_frames, dtype=np.int64),
    )


if __name__ == "__main__" and len(sys.argv) == 7 and sys.argv[1] == "record":
    _record_main(*sys.argv[2:])
