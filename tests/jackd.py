"""Start and stop a private `jackd -d dummy` server: shared by the pytest fixture and the benchmarks.

Why a plain module: the timing benchmark needs the same server as the tests (a real JACK graph without a
sound card), and one copy of the start/stop code keeps them measuring the same thing. Import it from a
benchmark with `sys.path.insert(0, "tests")`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SAMPLE_RATE = 48_000
PERIOD = 128


class JackUnavailable(RuntimeError):
    """No JACK server can be started here; the message says what is missing."""


@dataclass(frozen=True)
class JackServer:
    """A running dummy JACK server and the settings tests need to talk to it."""

    name: str
    samplerate: int
    blocksize: int
    realtime: bool = False


def _wait_for_server(name: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import jack

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jackd exited with {proc.returncode}: {log.read_text(errors='replace')}")
        try:
            client = jack.Client("companion-probe", servername=name, no_start_server=True)
        except jack.JackError:
            time.sleep(0.05)
            continue
        client.close()
        return
    raise RuntimeError(f"jackd did not come up within 10 s: {log.read_text(errors='replace')}")


def _die_with_parent() -> None:
    """Linux: jackd gets SIGTERM when the process that started it dies, even by SIGKILL or a timeout.

    Why: JACK allows only a few servers per machine; leaked servers from killed runs fill that quota and
    make every later run fail with "Too many servers already active".
    """
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _realtime_flag() -> str:
    """Realtime scheduling where this user may have it (root, or an rtprio limit), as a real rig runs.

    Why: on a busy shared machine a non-realtime dummy driver falls behind and then runs cycles back to
    back to catch up, which distorts the very timeline the timing tests measure against.
    """
    import resource

    allowed = os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_RTPRIO)[0] > 0
    return "--realtime" if allowed else "--no-realtime"


@contextmanager
def dummy_jack(
    name: str | None = None, log_dir: Path | None = None, samplerate: int = SAMPLE_RATE, period: int = PERIOD
) -> Iterator[JackServer]:
    """Run `jackd -d dummy -r RATE -p PERIOD` (realtime when allowed) and point every JACK client at it.

    JACK_DEFAULT_SERVER is read by libjack itself, so python-rtmidi's JACK API, PortAudio's JACK host
    API (through sounddevice) and JACK-Client all reach this server without extra arguments. Raises
    JackUnavailable when jackd or libjack is missing.
    """
    jackd = shutil.which("jackd")
    if jackd is None:
        raise JackUnavailable("no `jackd` on PATH (Debian package jackd2)")
    try:
        import jack  # noqa: F401
    except (ImportError, OSError) as exc:
        raise JackUnavailable(f"JACK-Client cannot load libjack: {exc}") from None
    name = name or f"companion-test-{os.getpid()}"
    log = Path(log_dir or tempfile.mkdtemp(prefix="jackd-")) / "jackd.log"
    env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
    realtime = _realtime_flag()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [jackd, realtime, "-n", name, "-d", "dummy", "-r", str(samplerate), "-p", str(period)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_die_with_parent,
        )
    previous = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    try:
        _wait_for_server(name, proc, log)
        os.environ["JACK_DEFAULT_SERVER"] = name
        os.environ["JACK_NO_START_SERVER"] = "1"
        _rescan_portaudio()
        yield JackServer(name, samplerate, period, realtime == "--realtime")
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        # PortAudio must let go of the server before it stops, or its JACK host API asserts at exit.
        _release_portaudio()
        if not _stop(proc):
            _reclaim_slot(jackd, name, env)
        _rescan_portaudio()


def _stop(proc: subprocess.Popen[bytes]) -> bool:
    """SIGTERM, then SIGKILL after 10 s; True when the server shut down cleanly."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False


def _reclaim_slot(jackd: str, name: str, env: dict[str, str]) -> None:
    """A killed jackd leaves its entry in JACK's machine-wide registry of (at most 8) servers, and only
    a server of the same name frees it; so start one under that name and stop it cleanly."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        proc = subprocess.Popen(
            [jackd, "--no-realtime", "-n", name, "-d", "dummy"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
            preexec_fn=_die_with_parent,
        )
        time.sleep(1.0)
        _stop(proc)


def _release_portaudio() -> None:
    """Terminate PortAudio (every nested initialisation) so it holds no JACK client."""
    if "sounddevice" not in sys.modules:
        return
    sd = sys.modules["sounddevice"]
    while sd._initialized:
        sd._terminate()


def _rescan_portaudio() -> None:
    """PortAudio enumerates host APIs once at initialisation; re-initialise so it sees the current server."""
    if "sounddevice" not in sys.modules:
        return
    _release_portaudio()
    sys.modules["sounddevice"]._initialize()


def frame_clock(cycles: Any, samplerate: int) -> tuple[float, float]:
    """Fit perf_counter time = frame / rate + intercept + slope * frame from (frame, perf) pairs taken at
    the start of each process cycle.

    A callback can only run late, never early, so the fit goes through the lower envelope (the earliest
    callback of each stretch); the slope absorbs the dummy driver's clock running fast (~250 ppm: it
    sleeps whole microseconds per period). perf_counter is the engine clock, so no conversion is needed.
    """
    import numpy as np

    frames, perfs = cycles[:, 0], cycles[:, 1]
    offsets = perfs - frames / samplerate
    stretches = [c for c in np.array_split(np.arange(len(frames)), min(24, len(frames))) if len(c)]
    low = [c[np.argmin(offsets[c])] for c in stretches]
    if len(low) < 2:
        return float(offsets[low[0]]), 0.0
    slope, intercept = np.polyfit(frames[low], offsets[low], 1)
    return float(intercept), float(slope)


class JackRecorder:
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
        self.first_frame: int | None = None
        self.midi: list[tuple[int, bytes]] = []
        self.gaps = 0
        self._next_frame: int | None = None
        self._closed = False
        self.cycles = np.zeros((int(seconds * self.samplerate / self.client.blocksize) + 64, 2))
        self._cycle_count = 0
        self.xruns = 0
        self.client.set_xrun_callback(self._xrun)
        self.client.set_process_callback(self._process)
        self.client.activate()

    def _xrun(self, delay: float) -> None:
        self.xruns += 1

    @property
    def clean(self) -> bool:
        """No xrun and no missed cycle while recording: the timeline is a trustworthy witness."""
        return self.xruns == 0 and self.gaps == 0

    def _process(self, frames: int) -> None:
        now = self.client.last_frame_time
        if self._cycle_count < len(self.cycles):
            self.cycles[self._cycle_count] = (now, time.perf_counter())
            self._cycle_count += 1
        if self.first_frame is None:
            self.first_frame = now
        if self._next_frame is not None and now != self._next_frame:
            self.gaps += 1
        self._next_frame = now + frames
        start = now - self.first_frame
        if start + frames <= len(self.audio):
            self.audio[start : start + frames] = self.audio_in.get_array()
        for offset, data in self.midi_in.incoming_midi_events():
            self.midi.append((now + offset, bytes(data)))

    def to_perf(self, frame: int) -> float:
        """When `frame` started, on the engine clock (`time.perf_counter`)."""
        intercept, slope = frame_clock(self.cycles[: self._cycle_count], self.samplerate)
        return frame / self.samplerate + intercept + slope * frame

    def connect_audio(self, source: str) -> None:
        self.client.connect(source, self.audio_in)

    def connect_midi(self, source: str) -> None:
        self.client.connect(source, self.midi_in)

    def audio_onsets(self, threshold: float = 1e-4, gap: int = 200) -> list[int]:
        """Absolute frames where sound starts after at least `gap` silent frames."""
        import numpy as np

        assert self.first_frame is not None
        loud = np.flatnonzero(np.abs(self.audio) > threshold)
        starts = [int(i) for k, i in enumerate(loud) if k == 0 or i - loud[k - 1] > gap]
        return [self.first_frame + s for s in starts]

    def note_ons(self) -> list[tuple[int, int, int]]:
        """(frame, note, velocity) of every note-on with velocity > 0."""
        return [(f, d[1], d[2]) for f, d in self.midi if len(d) == 3 and d[0] & 0xF0 == 0x90 and d[2] > 0]

    def close(self) -> None:
        """Stop recording (the data stays). Close before closing the engine's MIDI port: python-rtmidi
        holds the GIL while JACK waits for every client, this one's Python callback included."""
        if not self._closed:
            self._closed = True
            self.client.deactivate()
            self.client.close()


def find_ports(pattern: str, **kinds: bool) -> list[str]:
    """Port names matching `pattern` (a regex, as JACK takes it), from a short-lived client."""
    import jack

    client = jack.Client("companion-port-lookup", no_start_server=True)
    try:
        return [p.name for p in client.get_ports(pattern, **kinds)]
    finally:
        client.close()


class RecorderProcess:
    """A JackRecorder in its own process, so nothing in the measured process (a thread hogging the GIL,
    a busy UI) can disturb the witness. Used by the benchmark; results are read back after `stop()`."""

    def __init__(self, name: str, seconds: float, audio: str | None = None, midi: str | None = None) -> None:
        self._out = Path(tempfile.mkdtemp(prefix="recorder-")) / "take.npz"
        args = [
            sys.executable,
            __file__,
            "record",
            name,
            str(seconds),
            str(self._out),
            audio or "",
            midi or "",
        ]
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
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

        data = np.load(self._out)
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
        )


@dataclass
class RecordedTake:
    """What a RecorderProcess heard; the same queries as JackRecorder."""

    audio: Any
    first_frame: int
    midi: list[tuple[int, bytes]]
    cycles: Any
    samplerate: int
    xruns: int
    gaps: int

    def to_perf(self, frame: int) -> float:
        intercept, slope = frame_clock(self.cycles, self.samplerate)
        return frame / self.samplerate + intercept + slope * frame

    def audio_onsets(self, threshold: float = 1e-4, gap: int = 200) -> list[int]:
        return JackRecorder.audio_onsets(self, threshold, gap)  # type: ignore[arg-type]

    def note_ons(self) -> list[tuple[int, int, int]]:
        return JackRecorder.note_ons(self)  # type: ignore[arg-type]


def _record_main(name: str, seconds: str, out: str, audio: str, midi: str) -> None:
    import numpy as np

    rec = JackRecorder(name, seconds=float(seconds))
    if audio:
        rec.connect_audio(audio)
    if midi:
        rec.connect_midi(midi)
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
        cycles=rec.cycles[: rec._cycle_count],
        samplerate=rec.samplerate,
        xruns=rec.xruns,
        gaps=rec.gaps,
    )


if __name__ == "__main__" and len(sys.argv) == 7 and sys.argv[1] == "record":
    _record_main(*sys.argv[2:])
