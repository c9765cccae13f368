"""Start and stop a private `jackd -d dummy` server: shared by the pytest fixture and the benchmarks.

Why a plain module: the timing benchmark needs the same server as the tests (a real JACK graph without a
sound card), and one copy of the start/stop code keeps them measuring the same thing. A benchmark puts
`tests/` on `sys.path` and imports `support.jackd`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SAMPLE_RATE = 48_000
PERIOD = 128
LOG_ENV = "COMPANION_TEST_JACKD_LOG"
"""Where the running test server's log is (set by `dummy_jack`), for witnesses to quote from."""


class JackUnavailable(RuntimeError):
    """No JACK server can be started here; the message says what is missing."""


@dataclass(frozen=True)
class JackServer:
    """A running dummy JACK server and the settings tests need to talk to it."""

    name: str
    samplerate: int
    blocksize: int
    realtime: bool = False
    log: Path | None = None
    """jackd's own output: it names the client that missed a cycle at each xrun (see `ServerLog`)."""


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
    previous = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER", LOG_ENV)}
    try:
        _wait_for_server(name, proc, log)
        os.environ["JACK_DEFAULT_SERVER"] = name
        os.environ["JACK_NO_START_SERVER"] = "1"
        os.environ[LOG_ENV] = str(log)
        _rescan_portaudio()
        yield JackServer(name, samplerate, period, realtime == "--realtime", log)
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


LATE_S = 0.001
"""How late a process cycle's callback may run before MIDI stamped in that cycle stops being trustworthy.

JACK stamps an event with a frame of the cycle that carries it, and a client writing MIDI from a ring
buffer (python-rtmidi's JACK API) puts what it finds there at the start of the cycle it is running.
When that cycle runs late, a message sent up to that long after the cycle's start is stamped with the
start: the recording shows it early by up to the cycle's lateness. The recorder runs after the client it
listens to (JACK orders the graph by connections), so the recorder's own lateness bounds it. Takes whose
MIDI sits in cycles later than this are not clean; the MIDI tests allow 1 ms early (`MIDI_EARLY_S`), so
a clean take shows no engine message earlier than that unless the engine sent it early."""

XRUN_GUARD_S = 0.25
"""How far either side of a JACK xrun, and of a cycle the recorder missed, the witness is not trusted.

The recorder's xrun callback runs a few cycles after the xrun itself (it is a notification, not part of
the process cycle), and the dummy driver restarts its timeline at an xrun, so frames on either side of
one do not measure time across it. A quarter of a second is some ninety periods: far more than the
notification's delay, and less than a beat at any tempo a test plays."""


def frame_clock(cycles: Any, samplerate: int) -> tuple[float, float]:
    """Fit perf_counter time = frame / rate + intercept + slope * frame from (frame, perf) pairs taken at
    the start of each process cycle.

    A callback can only run late, never early, so every pair lies on or above the true line: the fit is
    the highest line (at the mean frame) below all of them, an edge of their lower convex hull. Late
    callbacks, however many and for however long a stretch, lie above the hull and cannot move it. The
    slope absorbs the dummy driver's clock running fast (~250 ppm: it sleeps whole microseconds per
    period). perf_counter is the engine clock, so no conversion is needed. Valid for a take without JACK
    xruns: the dummy driver restarts its timeline after one.
    """
    import numpy as np

    frames = np.asarray(cycles[:, 0], dtype=np.float64)
    offsets = np.asarray(cycles[:, 1], dtype=np.float64) - frames / samplerate
    # A frame seen twice (a cycle the restarted driver ran again) counts once, at its earliest callback.
    order = np.lexsort((offsets, frames))
    frames, offsets = frames[order], offsets[order]
    first = np.concatenate([[True], np.diff(frames) > 0])
    frames, offsets = frames[first], offsets[first]
    if len(frames) < 2:
        return (float(offsets[0]) if len(frames) else 0.0), 0.0
    x, y = (frames - frames[0]).tolist(), (offsets - offsets[0]).tolist()
    hull: list[int] = []  # Andrew's monotone chain, lower half; frames only increase
    for i in range(len(x)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            if (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a]) > 0:
                break
            hull.pop()
        hull.append(i)
    mean = sum(x) / len(x)
    a, b = next(((a, b) for a, b in itertools.pairwise(hull) if x[b] >= mean), (hull[-2], hull[-1]))
    slope = (y[b] - y[a]) / (x[b] - x[a])
    intercept = float(offsets[0]) + y[a] - slope * (float(frames[0]) + x[a])
    return intercept, slope


class ServerLog:
    """What jackd said while a take was recorded: at each xrun it names the client that did not finish
    its cycle in time, or says its driver woke too late. A hint, quoted in a take's trouble: the engine's
    clients are "Companion" (MIDI) and "PortAudio"; when the whole machine stalls, whichever client was
    due is named."""

    _CLIENT = re.compile(r"JackEngine::XRun: client = (.+?) was not finished")

    def __init__(self) -> None:
        self._path = Path(os.environ[LOG_ENV]) if os.environ.get(LOG_ENV) else None
        self._start = self._size()

    def _size(self) -> int:
        try:
            return self._path.stat().st_size if self._path is not None else 0
        except OSError:
            return 0

    def since_start(self) -> list[str]:
        """The lines jackd wrote since this object was made, about xruns."""
        if self._path is None:
            return []
        try:
            with self._path.open("rb") as log:
                log.seek(self._start)
                text = log.read().decode(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if "XRun" in line]


def xrun_culprits(lines: list[str]) -> str:
    """Who jackd blamed, e.g. `Companion x3, witness x1, driver late x2` (empty when no xrun)."""
    counts: Counter[str] = Counter()
    for line in lines:
        if found := ServerLog._CLIENT.search(line):
            counts[found.group(1)] += 1
        elif "JackTimedDriver::Process XRun" in line:
            counts["driver late"] += 1
    return ", ".join(f"{name} x{count}" for name, count in counts.most_common())


class Witness:
    """What JackRecorder and RecordedTake share: the frame clock, the queries, and whether to trust them.

    A take is clean when JACK had no xrun (the dummy driver restarts its timeline, and MIDI of a missed
    cycle is dropped), the recorder missed no cycle (whatever that cycle carried is not in the
    recording) and no recorded MIDI sits in a cycle that ran later than `LATE_S` (see there).
    """

    samplerate: int
    first_frame: int | None
    audio: Any
    midi: list[tuple[int, bytes]]
    xruns: int
    gaps: int
    server_said: list[str]
    """jackd's xrun lines while recording (see `ServerLog`)."""
    xrun_frames: list[int]
    """Where the recorder's xrun callback placed each JACK xrun (the estimated frame when it ran)."""

    def recorded_cycles(self) -> Any:
        """(frame, perf_counter) at the start of every recorded process cycle."""
        raise NotImplementedError

    def _clocks(self) -> list[tuple[float, float]]:
        """One frame clock per stretch between xruns (the dummy driver restarts its timeline at each)."""
        cycles = self.recorded_cycles()
        key = (len(cycles), len(self.xrun_frames))
        cached: tuple[tuple[int, int], list[tuple[float, float]]] | None = getattr(self, "_fits", None)
        if cached is None or cached[0] != key:
            whole = frame_clock(cycles, self.samplerate)
            stretch = self._stretch_of(cycles[:, 0])
            fits = []
            for k in range(len(self.xrun_frames) + 1):
                mine = cycles[stretch == k]
                fits.append(frame_clock(mine, self.samplerate) if len(mine) >= 2 else whole)
            cached = (key, fits)
            self._fits = cached
        return cached[1]

    def _stretch_of(self, frames: Any) -> Any:
        """Which stretch between xruns each frame lies in (0 before the first xrun)."""
        import numpy as np

        return np.searchsorted(np.sort(np.asarray(self.xrun_frames, dtype=np.float64)), frames, side="right")

    def _clock_at(self, frames: Any) -> tuple[Any, Any]:
        """(intercept, slope) of the frame clock that holds at each frame."""
        import numpy as np

        chosen = np.asarray(self._clocks(), dtype=np.float64)[self._stretch_of(frames)]
        return chosen[..., 0], chosen[..., 1]

    def to_perf(self, frame: int) -> float:
        """When `frame` started, on the engine clock (`time.perf_counter`)."""
        intercept, slope = self._clock_at(frame)
        return float(frame / self.samplerate + intercept + slope * frame)

    def lateness(self) -> Any:
        """Seconds each recorded cycle's callback ran after the cycle started (on the fitted frame clock)."""
        cycles = self.recorded_cycles()
        intercept, slope = self._clock_at(cycles[:, 0])
        return cycles[:, 1] - (cycles[:, 0] / self.samplerate + intercept + slope * cycles[:, 0])

    def _period(self) -> int:
        import numpy as np

        cycles = self.recorded_cycles()
        return int(np.diff(cycles[:, 0]).min()) if len(cycles) >= 2 else 0

    def untrusted(self) -> list[tuple[int, int]]:
        """Frame ranges [start, end) the witness cannot vouch for: `XRUN_GUARD_S` either side of each JACK
        xrun and of each stretch of cycles the recorder missed, and every cycle that ran later than
        `LATE_S` (its MIDI may be stamped early)."""
        import numpy as np

        guard = round(XRUN_GUARD_S * self.samplerate)
        ranges = [(f - guard, f + guard) for f in self.xrun_frames]
        cycles, period = self.recorded_cycles(), self._period()
        if period:
            frames = cycles[:, 0].astype(np.int64)
            missed = np.flatnonzero(np.diff(frames) > period)
            ranges += [(int(frames[i]) + period - guard, int(frames[i + 1]) + guard) for i in missed]
            ranges += [(int(f), int(f) + period) for f in frames[self.lateness() > LATE_S]]
        return sorted(ranges)

    def trusted(self, first: int, last: int) -> bool:
        """Whether the witness saw every cycle from frame `first` to frame `last` cleanly."""
        cycles = self.recorded_cycles()
        if not len(cycles) or first < cycles[0, 0] or last >= cycles[-1, 0] + self._period():
            return False
        return not any(start <= last and first < end for start, end in self.untrusted())

    def trusted_near(self, frames: Iterable[int], radius: int) -> list[int]:
        """The frames the witness saw cleanly with `radius` frames either side: what lies near them (a
        click's MIDI partner, say) would have been recorded."""
        return [frame for frame in frames if self.trusted(frame - radius, frame + radius)]

    def midi_lateness(self) -> Any:
        """For each recorded MIDI event, how late the cycle that carried it ran (seconds)."""
        import numpy as np

        cycles = self.recorded_cycles()
        if not self.midi or not len(cycles):
            return np.zeros(0)
        frames = np.array([frame for frame, _ in self.midi], dtype=np.float64)
        index = np.searchsorted(cycles[:, 0], frames, side="right") - 1
        return self.lateness()[np.clip(index, 0, None)]

    @property
    def clean(self) -> bool:
        """No xrun, no missed cycle, no MIDI in a late cycle: the timeline is a trustworthy witness."""
        return self.xruns == 0 and self.gaps == 0 and not (self.midi_lateness() > LATE_S).any()

    def trouble(self) -> str:
        """Why the take is not clean, in words (empty when it is)."""
        late = self.midi_lateness()
        late = late[late > LATE_S]
        parts = [f"{self.xruns} JACK xruns"] if self.xruns else []
        parts += [f"{self.gaps} cycles the recorder missed"] if self.gaps else []
        if len(late):
            parts.append(f"{len(late)} MIDI events in cycles up to {late.max() * 1000:.1f} ms late")
        if culprits := xrun_culprits(self.server_said):
            parts.append(f"jackd: not finished in time: {culprits}")
        return ", ".join(parts)

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
    a busy UI) can disturb the witness. The take begins once its ports are connected and settled (see
    `JackRecorder.settle`); results are read back after `stop()`. Used by the tests and the benchmarks."""

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


@dataclass
class RecordedTake(Witness):
    """What a RecorderProcess heard; the same queries as JackRecorder."""

    audio: Any
    first_frame: int
    midi: list[tuple[int, bytes]]
    cycles: Any
    samplerate: int
    xruns: int
    gaps: int
    server_said: list[str] = field(default_factory=list)
    xrun_frames: list[int] = field(default_factory=list)

    def recorded_cycles(self) -> Any:
        return self.cycles


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
