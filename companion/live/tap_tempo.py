"""Tap tempo: the therapist taps each step (or beat); after a pause the taps become a cadence.

The measurement itself is `audio.cadence.cadence`, which shrugs off a missed tap or a bounced double tap
(a hand also steadying a client is not a metronome). A series ends when the taps stop for `pause_s`;
the session screen then sets the metronome to the cadence and logs it as the client's baseline, and the
RAS ramp that follows from it (`RasStages`) is one key per stage from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audio.cadence import GAIT_MAX_BPM, MIN_TAPS, CadenceError, MeasuredCadence, cadence, ras_ramp_plan
from audio.tempo import MAX_BPM, MIN_BPM
from interventions import TempoPreset

PAUSE_S = 2.5
"""Taps further apart than this start a new series (no one walks at 24 steps a minute)."""


@dataclass(frozen=True)
class TapReading:
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


class TapSeries:
    """The taps of the current series, on one clock (seconds, e.g. `time.perf_counter()`)."""

    def __init__(self, pause_s: float = PAUSE_S) -> None:
        self.pause_s = pause_s
        self._taps: list[float] = []

    def tap(self, at: float) -> TapReading:
        if self._taps and at - self._taps[-1] > self.pause_s:
            self._taps = []
        self._taps.append(at)
        return self.reading()

    def reading(self) -> TapReading:
        if len(self._taps) < MIN_TAPS:
            return TapReading(len(self._taps), None)
        try:
            return TapReading(len(self._taps), cadence(self._taps))
        except CadenceError as problem:
            return TapReading(len(self._taps), None, str(problem))

    def finish(self) -> TapReading:
        """End the series: its reading (cadence or the reason there is none); the next tap starts anew."""
        reading = self.reading()
        self._taps = []
        return reading

    @property
    def active(self) -> bool:
        return bool(self._taps)


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
