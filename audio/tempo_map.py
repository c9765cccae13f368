"""The tempo map: exact beat and click times from one origin, through meters, ramps and live changes.

Why exact arithmetic: a steady pulse is only steady if every beat time is computed afresh from the origin
rather than by adding intervals. All times here are `Fraction` seconds measured from beat 0 (the first beat
after the count-in), so beat 7,200 at 120 bpm is exactly 3,600 s and nothing drifts, however long a session.

Tempo is a step function of the beat index: each beat (and its subdivisions) keeps one bpm, and tempo
changes only at beat boundaries. A linear ramp therefore changes the tempo a little on every beat (what a
listener hears, since a tempo lives between two clicks) and a percent ramp steps every N bars, as RAS does.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from audio.tempo import Level, Number, TempoError, TempoSettings, exact


@dataclass(frozen=True, slots=True)
class Click:
    """One click on the tempo map.

    `beat_index` counts beats from 0 after the count-in (count-in beats are negative and flagged);
    `bar` and `beat` are 0-based (count-in bars are negative); `sub` is 0 on the beat; `time_s` is exact
    seconds from beat 0; `bpm` is the tempo in force for this beat.
    """

    beat_index: int
    bar: int
    beat: int
    sub: int
    level: Level
    time_s: Fraction
    bpm: Fraction
    count_in: bool = False

    @property
    def is_subdivision(self) -> bool:
        return self.sub != 0


@dataclass(frozen=True)
class _Section:
    """From `start_beat` on, clicks follow `settings`; `bar_beat` is a bar line at or before it, bar `bar`."""

    start_beat: int
    bar_beat: int
    bar: int
    settings: TempoSettings

    def position(self, beat: int) -> tuple[int, int]:
        """(bar, beat in bar) of a beat in this section."""
        bars, in_bar = divmod(beat - self.bar_beat, self.settings.meter.beats)
        return self.bar + bars, in_bar


class TempoMap:
    """Exact times of every beat and click from one origin (beat 0 at 0 s), through ramps and changes.

    Immutable: a change while playing is a new map from `with_change`, equal to this one before the change
    beat, so the beats already played keep their times.
    """

    def __init__(self, settings: TempoSettings) -> None:
        self.settings = settings
        self._sections: list[_Section] = [_Section(0, 0, 0, settings)]
        self._step_beats: list[int] = []
        self._step_bpms: list[Fraction] = []
        self._step_times: list[Fraction] = []
        self._add_tempo_steps(0, Fraction(0), settings)

    def _add_tempo_steps(self, start_beat: int, start_time: Fraction, settings: TempoSettings) -> None:
        ramp = settings.ramp
        steps = [(0, settings.bpm)] if ramp is None else ramp.steps(settings.bpm, settings.meter.beats)
        time = start_time
        for offset, bpm in steps:
            beat = start_beat + offset
            if self._step_beats:
                time = self._time_from_step(len(self._step_beats) - 1, Fraction(beat))
            self._step_beats.append(beat)
            self._step_bpms.append(bpm)
            self._step_times.append(time)

    def _time_from_step(self, i: int, beat: Fraction) -> Fraction:
        return self._step_times[i] + (beat - self._step_beats[i]) * 60 / self._step_bpms[i]

    def with_change(self, at_beat: int, settings: TempoSettings) -> TempoMap:
        """A map equal to this one before `at_beat`, then following `settings` (its ramp restarting there).

        A meter change must fall on a bar line; the count-in of `settings` is ignored (only a start has one).
        """
        if at_beat < 0:
            raise TempoError("changes start at beat 0 or later (the count-in keeps the starting tempo)")
        current = self.section_at(at_beat)
        bar, in_bar = current.position(at_beat)
        if in_bar and settings.meter != current.settings.meter:
            raise TempoError(f"a meter change must start on a bar line (beat {at_beat} is mid-bar)")
        new = object.__new__(TempoMap)
        new.settings = self.settings
        new._sections = [s for s in self._sections if s.start_beat < at_beat]
        new._sections.append(_Section(at_beat, at_beat - in_bar, bar, settings))
        keep = bisect.bisect_left(self._step_beats, at_beat)
        new._step_beats = self._step_beats[:keep]
        new._step_bpms = self._step_bpms[:keep]
        new._step_times = self._step_times[:keep]
        new._add_tempo_steps(at_beat, self.time_at(at_beat), settings)
        return new

    # --- queries -------------------------------------------------------------------------------------

    def _step_index(self, beat: Fraction) -> int:
        return max(0, bisect.bisect_right(self._step_beats, beat) - 1)

    def time_at(self, beat: Number) -> Fraction:
        """Exact seconds of a (fractional) beat from beat 0; negative beats (count-in) use the first tempo."""
        b = exact(beat, "beat")
        return self._time_from_step(self._step_index(b), b)

    def beat_at(self, seconds: Number) -> Fraction:
        """The exact (fractional) beat sounding at `seconds` from beat 0: the inverse of `time_at`."""
        t = exact(seconds, "seconds")
        i = max(0, bisect.bisect_right(self._step_times, t) - 1)
        return self._step_beats[i] + (t - self._step_times[i]) * self._step_bpms[i] / 60

    def bpm_at(self, beat: Number) -> Fraction:
        """The tempo in force during the beat containing `beat`."""
        b = exact(beat, "beat")
        return self._step_bpms[self._step_index(Fraction(math.floor(b)))]

    def section_at(self, beat: int) -> _Section:
        starts = [s.start_beat for s in self._sections]
        return self._sections[max(0, bisect.bisect_right(starts, beat) - 1)]

    def next_bar_line(self, beat: int) -> int:
        """The first bar line at or after `beat`."""
        section = self.section_at(beat)
        _, in_bar = section.position(beat)
        return beat if in_bar == 0 else beat + section.settings.meter.beats - in_bar

    @property
    def count_in_beats(self) -> int:
        return self.settings.count_in_bars * self.settings.meter.beats

    def clicks(self, from_beat: int | None = None) -> Iterator[Click]:
        """Every click in time order from `from_beat` (default: the start of the count-in), forever."""
        beat = -self.count_in_beats if from_beat is None else from_beat
        while True:
            yield from self.clicks_of_beat(beat)
            beat += 1

    def clicks_of_beat(self, beat: int) -> list[Click]:
        """The clicks of one beat: the beat itself and its subdivisions (count-in beats have none)."""
        bpm = self.bpm_at(beat)
        if beat < 0:
            first = self.settings
            bar, in_bar = divmod(beat, first.meter.beats)
            level = first.levels[in_bar]
            return [Click(beat, bar, in_bar, 0, level, self.time_at(beat), bpm, count_in=True)]
        section = self.section_at(beat)
        bar, in_bar = section.position(beat)
        levels = section.settings.levels
        return [
            Click(beat, bar, in_bar, j, Level.SUB if j else levels[in_bar], self.time_at(beat + offset), bpm)
            for j, offset in enumerate(section.settings.sub_offsets())
        ]
