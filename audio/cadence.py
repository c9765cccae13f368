"""Cadence from tapped steps, the RAS ramp that follows from it, and the adaptive-tempo policy.

RAS (Rhythmic Auditory Stimulation) starts from the client's own cadence: the therapist taps every step
during a timed walk, the metronome is set to that baseline, and the tempo is then stepped up (typically
+5-10 % per stage) as the client entrains (Thaut & Hoemberg 2014). Taps come from a hand that is also
steadying a client, so the measurement must shrug off a missed tap or a bounced double tap.

All times are seconds on the engine clock; tempos are beats (= steps) per minute.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from audio.live_sync import BeatOutcome
from audio.sync_analysis import circular_mean
from audio.tempo import MAX_BPM, MIN_BPM

MIN_TAPS = 5
MIN_STEP_S = 0.15
"""No one steps 400 times a minute: taps closer than this are always a bounce."""
DOUBLE_TAP_FRACTION = 0.5
"""A tap closer than this fraction of the median step to the previous one is a bounce, not a step."""
STEP_TOLERANCE = 0.3
"""An interval within +-30 % of the median step is one step."""
MISSED_TAP_TOLERANCE = 0.15
"""An interval of k steps (k = 2, 3) whose k-th part is within +-15 % of the median hides k-1 missed taps."""
MAX_MISSED_IN_A_ROW = 2
GAIT_MAX_BPM = 140.0


class CadenceError(ValueError):
    """The taps cannot give a cadence; the message says why and what to do."""


@dataclass(frozen=True)
class MeasuredCadence:
    """A measured cadence and how much to trust it."""

    steps_per_min: float
    """60 / median step interval: robust to the odd stumble."""
    cv: float
    """Stability: coefficient of variation of the step intervals (0.03 = 3 %; healthy gait is ~2-4 %)."""
    steps: int
    """Steps walked, counting those whose tap was missed."""
    taps: int
    double_taps: int
    """Bounced taps dropped."""
    missed_taps: int
    """Steps filled in where an interval spanned two or three steps."""
    rejected: int
    """Intervals left out as neither one nor a few steps (a pause, a turn, a stumble)."""
    duration_s: float


def _drop_double_taps(taps: np.ndarray, step: float) -> np.ndarray:
    kept = [float(taps[0])]
    for t in taps[1:]:
        if t - kept[-1] >= max(MIN_STEP_S, DOUBLE_TAP_FRACTION * step):
            kept.append(float(t))
    return np.array(kept)


def cadence(taps: Sequence[float]) -> MeasuredCadence:
    """Steps per minute and stability from the therapist's step taps (seconds, any order)."""
    times = np.sort(np.asarray(taps, dtype=np.float64))
    if times.size < MIN_TAPS:
        raise CadenceError(f"tap at least {MIN_TAPS} steps to measure a cadence (got {times.size})")
    if not np.all(np.isfinite(times)):
        raise CadenceError("tap times must be finite numbers of seconds")
    gaps = np.diff(times)
    plausible = gaps[gaps >= MIN_STEP_S]
    if plausible.size == 0:
        raise CadenceError(
            f"the taps are under {MIN_STEP_S:g} s apart, too close to be steps: tap once per step"
        )
    kept = _drop_double_taps(times, float(np.median(plausible)))
    intervals = np.diff(kept)
    if intervals.size < MIN_TAPS - 1:
        raise CadenceError(f"too few distinct steps after removing double taps: tap at least {MIN_TAPS}")
    step = float(np.median(intervals))
    ratio = intervals / step
    multiple = np.clip(np.rint(ratio), 1, None)
    one_step = np.abs(ratio - 1.0) <= STEP_TOLERANCE
    hides_missed = (
        (multiple >= 2)
        & (multiple <= MAX_MISSED_IN_A_ROW + 1)
        & (np.abs(ratio / multiple - 1.0) <= MISSED_TAP_TOLERANCE)
    )
    accepted = one_step | hides_missed
    step_intervals = intervals[accepted] / multiple[accepted]
    if step_intervals.size < 2 or 2 * step_intervals.size < intervals.size:
        raise CadenceError(
            "the taps are too irregular to give a cadence: tap every step during a steady walk"
        )
    missed = int((multiple[accepted] - 1).sum())
    return MeasuredCadence(
        steps_per_min=60.0 / float(np.median(step_intervals)),
        cv=float(step_intervals.std(ddof=1) / step_intervals.mean()),
        steps=int(kept.size) + missed,
        taps=int(times.size),
        double_taps=int(times.size - kept.size),
        missed_taps=missed,
        rejected=int(np.count_nonzero(~accepted)),
        duration_s=float(times[-1] - times[0]),
    )


def baseline_bpm(taps: Sequence[float]) -> float:
    """The metronome tempo that matches the client's cadence, to 0.1 bpm: RAS's starting point."""
    return round(cadence(taps).steps_per_min, 1)


def ras_ramp_plan(
    baseline: float, percent: float = 5.0, stages: int = 4, max_bpm: float = GAIT_MAX_BPM
) -> tuple[float, ...]:
    """Stage tempos of a RAS ramp: the baseline, then +`percent` % of the previous stage per stage.

    The plan stops at `max_bpm` (the last stage is the cap itself when a step would pass it), so it never
    asks for a tempo the client should not walk at. Tempos are rounded to 0.1 bpm.
    """
    if not MIN_BPM <= baseline <= MAX_BPM:
        raise ValueError(f"baseline {baseline:g} bpm is outside {MIN_BPM}-{MAX_BPM} bpm")
    if not 0.0 < percent <= 25.0:
        raise ValueError(f"ramp step {percent:g} % is outside (0, 25] % (RAS uses 5-10 %)")
    if stages < 1:
        raise ValueError("a ramp needs at least 1 stage after the baseline")
    if max_bpm < baseline:
        raise ValueError(f"max_bpm {max_bpm:g} is below the baseline {baseline:g}")
    plan = [round(baseline, 1)]
    tempo = baseline
    for _ in range(stages):
        tempo *= 1.0 + percent / 100.0
        if tempo >= max_bpm:
            if plan[-1] < max_bpm:
                plan.append(round(max_bpm, 1))
            break
        plan.append(round(tempo, 1))
    return tuple(plan)


class AdaptiveMode(StrEnum):
    OFF = "off"
    FOLLOW = "follow"
    """Move the tempo toward the client's, at most `max_change_per_bar_bpm` per bar."""
    ENTRAIN = "entrain"
    """Hold the tempo; step up by `step_percent` once R >= `r_threshold` over `entrain_beats` beats."""


@dataclass(frozen=True)
class AdaptiveSettings:
    """Per-plan adaptive-tempo settings. Off unless a plan asks for it."""

    mode: AdaptiveMode = AdaptiveMode.OFF
    min_bpm: float = 40.0
    max_bpm: float = GAIT_MAX_BPM
    beats_per_bar: int = 4
    max_change_per_bar_bpm: float = 2.0
    r_threshold: float = 0.9
    entrain_beats: int = 16
    step_percent: float = 5.0

    def __post_init__(self) -> None:
        if not 0 < self.min_bpm < self.max_bpm:
            raise ValueError("adaptive tempo needs 0 < min_bpm < max_bpm")
        if self.beats_per_bar < 1 or self.entrain_beats < 2:
            raise ValueError("beats_per_bar must be >= 1 and entrain_beats >= 2")
        if self.max_change_per_bar_bpm <= 0 or not 0 < self.r_threshold <= 1 or self.step_percent <= 0:
            raise ValueError("max change, R threshold (0-1] and step percent must be positive")


@dataclass(frozen=True)
class AdaptiveState:
    """What the session screen shows while adaptive tempo is on (it must always be visible)."""

    mode: AdaptiveMode
    tempo_bpm: float
    client_bpm: float | None
    r: float | None
    entrained_beats: int
    needed_beats: int
    changes: int
    reason: str


class AdaptiveTempo:
    """Decides the next tempo from each closed beat (`LiveSync.close_until` gives `BeatOutcome`s).

    follow: the client's tempo is 60 / median ITI of the last bar; at each bar line the tempo moves toward
    it by at most `max_change_per_bar_bpm`, always within [min_bpm, max_bpm].
    entrain: the tempo holds; R of the last `entrain_beats` phases is tracked, a missed beat restarts the
    count, and when R >= `r_threshold` over a full window the tempo steps up by `step_percent` (capped at
    max_bpm) and the count restarts so the client entrains to the new tempo first.
    """

    def __init__(self, tempo_bpm: float, settings: AdaptiveSettings | None = None) -> None:
        self.settings = settings or AdaptiveSettings()
        self._tempo = tempo_bpm
        self._itis: deque[float] = deque(maxlen=self.settings.beats_per_bar)
        self._phases: deque[float] = deque(maxlen=self.settings.entrain_beats)
        self._beats_in_bar = 0
        self._changes = 0
        self._client_bpm: float | None = None
        self._reason = "adaptive tempo off" if self.settings.mode is AdaptiveMode.OFF else "listening"

    @property
    def tempo_bpm(self) -> float:
        return self._tempo

    def set_tempo(self, bpm: float) -> None:
        """The therapist chose a tempo: take it and start listening afresh."""
        self._tempo = bpm
        self._itis.clear()
        self._phases.clear()
        self._beats_in_bar = 0

    def observe(self, beat: BeatOutcome) -> float:
        """Take one closed beat; return the tempo to play from now on."""
        mode = self.settings.mode
        if mode is AdaptiveMode.FOLLOW:
            self._follow(beat)
        elif mode is AdaptiveMode.ENTRAIN:
            self._entrain(beat)
        return self._tempo

    @property
    def state(self) -> AdaptiveState:
        return AdaptiveState(
            mode=self.settings.mode,
            tempo_bpm=self._tempo,
            client_bpm=self._client_bpm,
            r=self._window_r(),
            entrained_beats=len(self._phases),
            needed_beats=self.settings.entrain_beats,
            changes=self._changes,
            reason=self._reason,
        )

    def _follow(self, beat: BeatOutcome) -> None:
        s = self.settings
        if beat.iti_ms is not None:
            self._itis.append(beat.iti_ms)
        self._beats_in_bar += 1
        if self._beats_in_bar < s.beats_per_bar:
            return
        self._beats_in_bar = 0
        if len(self._itis) < 2:
            self._reason = f"holding {self._tempo:.1f} bpm: too few hits in the last bar"
            return
        self._client_bpm = 60000.0 / float(np.median(self._itis))
        self._itis.clear()
        step = max(-s.max_change_per_bar_bpm, min(s.max_change_per_bar_bpm, self._client_bpm - self._tempo))
        new = max(s.min_bpm, min(s.max_bpm, self._tempo + step))
        if new != self._tempo:
            self._changes += 1
        self._reason = f"following the client at {self._client_bpm:.1f} bpm: {self._tempo:.1f} -> {new:.1f}"
        self._tempo = new

    def _entrain(self, beat: BeatOutcome) -> None:
        s = self.settings
        if beat.phase_deg is None:
            self._phases.clear()
            self._reason = f"holding {self._tempo:.1f} bpm: a missed beat restarts the count"
            return
        self._phases.append(math.radians(beat.phase_deg))
        r = self._window_r()
        if len(self._phases) < s.entrain_beats or r is None or r < s.r_threshold:
            self._reason = (
                f"holding {self._tempo:.1f} bpm: R {r or 0:.2f} "
                f"({len(self._phases)}/{s.entrain_beats} beats, needs {s.r_threshold:.2f})"
            )
            return
        new = min(s.max_bpm, self._tempo * (1.0 + s.step_percent / 100.0))
        self._phases.clear()
        if new == self._tempo:
            self._reason = f"entrained at the ceiling {s.max_bpm:.1f} bpm: holding"
            return
        self._changes += 1
        self._reason = f"entrained (R {r:.2f}): {self._tempo:.1f} -> {new:.1f} bpm"
        self._tempo = new

    def _window_r(self) -> float | None:
        if not self._phases:
            return None
        return circular_mean(np.fromiter(self._phases, dtype=np.float64))[1]
