"""The witness's verdict on a take: its frame clock, and whether what it recorded can be trusted.

`Witness` holds what a live recorder (`support.recorder.JackRecorder`) and a finished take read back from
its process (`RecordedTake`) share: frames mapped onto the engine clock, the notes and onsets heard, and
the troubles that make a take unclean (a JACK xrun, a cycle the recorder missed, MIDI in a late cycle),
with what jackd's log said about them.
"""

from __future__ import annotations

import itertools
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.jackd import LOG_ENV

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

    def _clocks(self) -> Any:
        """One frame clock (intercept, slope) per stretch between xruns, as an array (the dummy driver
        restarts its timeline at each xrun); fitted once per recording state, since `to_perf` asks for it
        for every frame it converts."""
        import numpy as np

        cycles = self.recorded_cycles()
        key = (len(cycles), len(self.xrun_frames))
        cached: tuple[tuple[int, int], Any] | None = getattr(self, "_fits", None)
        if cached is None or cached[0] != key:
            whole = frame_clock(cycles, self.samplerate)
            stretch = self._stretch_of(cycles[:, 0])
            fits = []
            for k in range(len(self.xrun_frames) + 1):
                mine = cycles[stretch == k]
                fits.append(frame_clock(mine, self.samplerate) if len(mine) >= 2 else whole)
            cached = (key, np.asarray(fits, dtype=np.float64))
            self._fits = cached
        return cached[1]

    def _stretch_of(self, frames: Any) -> Any:
        """Which stretch between xruns each frame lies in (0 before the first xrun)."""
        import numpy as np

        return np.searchsorted(np.sort(np.asarray(self.xrun_frames, dtype=np.float64)), frames, side="right")

    def _clock_at(self, frames: Any) -> tuple[Any, Any]:
        """(intercept, slope) of the frame clock that holds at each frame."""
        chosen = self._clocks()[self._stretch_of(frames)]
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
        `LATE_S` carrying MIDI (its MIDI may be stamped early). A late cycle that carried nothing is
        harmless, as `clean` judges it: so a clean take has no untrusted range, and is judged whole."""
        import numpy as np

        guard = round(XRUN_GUARD_S * self.samplerate)
        ranges = [(f - guard, f + guard) for f in self.xrun_frames]
        cycles, period = self.recorded_cycles(), self._period()
        if period:
            frames = cycles[:, 0].astype(np.int64)
            missed = np.flatnonzero(np.diff(frames) > period)
            ranges += [(int(frames[i]) + period - guard, int(frames[i + 1]) + guard) for i in missed]
            midi = np.array([frame for frame, _ in self.midi], dtype=np.int64)
            carrying = np.zeros(len(frames), dtype=bool)
            carrying[np.clip(np.searchsorted(frames, midi, side="right") - 1, 0, None)] = len(midi) > 0
            ranges += [(int(f), int(f) + period) for f in frames[(self.lateness() > LATE_S) & carrying]]
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
