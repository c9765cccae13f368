"""Tap tempo and gait cadence: the therapist taps each of the client's steps, the taps become a cadence.

One collector, `CadenceTaps`, for every way taps arrive: the session screen's tap key (UI thread), a MIDI
pedal or pad (the input's delivery thread) and `companion cadence` in a terminal. It also holds what
follows from a cadence in RAS work: the stage tempos (`RasStages`), a gait plan's preset started from the
client's cadence (`GaitPreset`) and the condition the steps were walked in (`cadence_condition`).

The measurement itself is `audio.cadence.cadence`, which shrugs off a missed tap or a bounced double tap
(a hand also steadying a client is not a metronome).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from audio.cadence import (
    GAIT_MAX_BPM,
    MIN_TAPS,
    CadenceError,
    MeasuredCadence,
    baseline_bpm,
    cadence,
    ras_ramp_plan,
)
from audio.midi_hits import Hit
from audio.tempo import MAX_BPM, MIN_BPM
from companion.record import Cadence
from interventions import TempoPreset

if TYPE_CHECKING:
    from companion.live.listening_record import EventSink
    from companion.record import Event

PAUSE_S = 2.5
"""Taps further apart than this end a series (no one walks at 24 steps a minute)."""


@dataclass(frozen=True)
class TapReading:
    """The series so far: how many taps, and the cadence they give (or why they give none yet)."""

    taps: int
    cadence: MeasuredCadence | None
    problem: str = ""

    def describe(self) -> str:
        if self.cadence is not None:
            found = self.cadence
            return f"tap: {self.taps} taps · {found.steps_per_min:.1f}/min (CV {found.cv * 100:.0f}%)"
        return f"tap: {self.taps} taps" + (
            f" · {self.problem}" if self.problem else f" (at least {MIN_TAPS})"
        )


def _reading(taps: tuple[float, ...]) -> TapReading:
    if len(taps) < MIN_TAPS:
        return TapReading(len(taps), None)
    try:
        return TapReading(len(taps), cadence(taps))
    except CadenceError as problem:
        return TapReading(len(taps), None, str(problem))


class CadenceTaps:
    """The taps of one series of steps, on one clock (seconds: `time.perf_counter()`, as MIDI hits are).

    The rule, as RAS practice measures gait: cadence is steps over the timed span they were walked in (a
    timed walk, Thaut & Hoemberg 2014), so a series is the steps of one walk, from its first tap to its
    last. A pause longer than `pause_s` ends the series and is not walked time: the next tap starts a new
    series rather than stretching the span of the old one (a turn at the end of the walkway, the client
    resting, the therapist stopping to steady them). Measuring across the pause would mix two walks and
    lean on the cadence's rejection of outlying intervals; measuring up to the pause, never over it, keeps
    the baseline the client's own. The pause that ends the last series changes nothing: `finish` (the
    screen's timer after `pause_s`, or the end of `companion cadence`) takes the series as it stood.

    Thread-safe: taps may come from the UI and a MIDI thread at once. `notes` limits MIDI hits to the
    pedal's (None: every note counts).
    """

    def __init__(self, notes: frozenset[int] | None = None, pause_s: float = PAUSE_S) -> None:
        self.notes = notes
        self.pause_s = pause_s
        self._taps: list[float] = []
        self._lock = threading.Lock()

    def hit(self, hit: Hit) -> TapReading | None:
        """Take a MIDI hit as a tap (usable as MidiInput's `on_hit`); None when its note does not count."""
        if self.notes is not None and hit.note not in self.notes:
            return None
        return self.tap(hit.time_s)

    def tap(self, at: float) -> TapReading:
        """One step at `at` seconds; after a pause it is the first of a new series."""
        with self._lock:
            if self._taps and at - self._taps[-1] > self.pause_s:
                self._taps = []
            self._taps.append(at)
            taps = tuple(self._taps)
        return _reading(taps)

    @property
    def taps(self) -> tuple[float, ...]:
        with self._lock:
            return tuple(self._taps)

    @property
    def active(self) -> bool:
        """A series is being tapped."""
        return bool(self.taps)

    def measure(self) -> MeasuredCadence:
        """The cadence of the series; CadenceError (why, what to do) when its taps cannot give one."""
        return cadence(self.taps)

    def reading(self) -> TapReading:
        """The series so far, for a live display: its cadence, or none yet and why."""
        return _reading(self.taps)

    def finish(self) -> TapReading:
        """End the series: its reading (cadence or the reason there is none); the next tap starts anew."""
        with self._lock:
            taps, self._taps = tuple(self._taps), []
        return _reading(taps)

    def baseline_bpm(self) -> float:
        """The metronome tempo matching the series' cadence (0.1 bpm): where RAS starts."""
        return baseline_bpm(self.taps)

    def log(self, target: EventSink) -> Event:
        """Record the series' cadence (raises CadenceError, or StorageError leaving it pending)."""
        measured = self.measure()
        return target.log(Cadence(measured.steps_per_min, measured.cv, measured.steps))


RAS_STEP_PERCENT = 5.0
"""Stage step when the plan names none: RAS raises the tempo 5-10 % per stage as the client entrains."""
RAS_STAGES = 4


@dataclass(frozen=True)
class RasStages:
    """The RAS ramp from a measured baseline cadence: its stage tempos and the stage in force.

    The step and ceiling come from the plan's percent ramp when it has one (its `max_bpm`, else the
    plan's `bpm_max`), otherwise +5 % per stage up to a safe gait tempo; the therapist moves on a stage
    when the client walks steadily at the current one.
    """

    tempos: tuple[float, ...]
    percent: float
    stage: int = 0

    @classmethod
    def from_baseline(cls, baseline: float, preset: TempoPreset | None = None) -> RasStages:
        percent, ceiling = RAS_STEP_PERCENT, GAIT_MAX_BPM
        if preset is not None:
            ramp = preset.ramp
            if ramp is not None and ramp.kind == "percent" and ramp.percent is not None:
                percent = min(ramp.percent, 25.0)
            limit = (ramp.max_bpm if ramp is not None else None) or preset.bpm_max
            if limit is not None:
                ceiling = limit
        ceiling = max(ceiling, baseline)
        return cls(ras_ramp_plan(baseline, percent, RAS_STAGES, ceiling), percent)

    @property
    def bpm(self) -> float:
        return self.tempos[self.stage]

    @property
    def last(self) -> bool:
        return self.stage == len(self.tempos) - 1

    def advanced(self) -> RasStages:
        """The next stage (the last one stays where it is)."""
        return RasStages(self.tempos, self.percent, min(self.stage + 1, len(self.tempos) - 1))

    def describe(self) -> str:
        steps = " → ".join(
            f"▶{tempo:g}" if index == self.stage else f"{tempo:g}" for index, tempo in enumerate(self.tempos)
        )
        return f"RAS stage {self.stage + 1}/{len(self.tempos)} (+{self.percent:g}% per stage): {steps} bpm"


def cadence_condition(running: bool, cue_faded: bool, cued_before: bool) -> str:
    """How the steps just tapped were walked, as RAS data separates them: with the beat ("cued"); after the
    cue was faded or stopped ("cue faded": carry-over); or before any cue this session ("baseline")."""
    if running and not cue_faded:
        return "cued"
    return "cue faded" if running or cued_before else "baseline"


@dataclass(frozen=True)
class GaitPreset:
    """A gait plan's tempo preset as RAS is run: what the metronome gets and what to tell the therapist."""

    values: dict[str, Any]
    """For `MetronomeControl.load_preset`: the plan's preset with the client's tempo and no timer ramp."""
    bpm: float
    stages: RasStages | None
    """The stages `x` steps through, from the measured cadence (None until one is measured)."""
    note: str

    @classmethod
    def from_cadence(cls, preset: TempoPreset, cadence_spm: float | None) -> GaitPreset:
        """Start from the client's last measured cadence, within the plan's range; the plan's own tempo only
        when no cadence was measured yet. The plan's ramp is not run on a timer: RAS raises the tempo only
        when the client walks steadily at the current one, so its percent and ceiling become the stages."""
        values = preset.as_engine_kwargs()
        values.pop("ramp", None)
        if cadence_spm is None:
            note = (
                "(the plan's: no cadence measured yet; tap t on each step for the client's own, then p again)"
            )
            return cls(values, preset.bpm, None, note)
        low = preset.bpm_min if preset.bpm_min is not None else MIN_BPM
        high = preset.bpm_max if preset.bpm_max is not None else MAX_BPM
        bpm = round(min(max(cadence_spm, low), high), 1)
        note = f"from the last measured cadence, {cadence_spm:g} steps/min"
        if bpm != cadence_spm:
            note += f" (held to the plan's range {low:g}-{high:g})"
        values["bpm"] = bpm
        stages = RasStages.from_baseline(bpm, preset)
        return cls(values, bpm, stages, f"{note}. {stages.describe()}; x: next stage")
