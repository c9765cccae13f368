"""Channel events placed in exact beats: the material songs and grooves share and a cursor plays.

Positions are quarter-note beats as `Fraction`s (and integer ticks for fast bisection), so loop passes and
long sessions never drift; a file's own tempo changes survive only as relative factors (see `audio.song`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise
from math import ceil
from typing import NamedTuple

import mido
from mido.frozen import FrozenMessage

BeatLike = Fraction | int | float
"""A position or length in quarter-note beats; floats are taken exactly (`Fraction(0.5) == 1/2`)."""


class BeatRange(NamedTuple):
    """A half-open span of song beats [start, end)."""

    start: Fraction
    end: Fraction


class SongEvent(NamedTuple):
    """One channel message at an exact song position (`beat` == `tick` / ticks per beat)."""

    tick: int
    beat: Fraction
    message: FrozenMessage


class TimedMessage(NamedTuple):
    """What a cursor hands the scheduler: a message and its playback beat (metronome beats since start)."""

    beat: Fraction
    message: mido.Message


@dataclass(frozen=True)
class TempoFactors:
    """Playback speed relative to the main tempo, piecewise constant over song beats.

    `main_beats_at(b)` is how many beats at the main tempo the song takes to reach song beat `b`: a section at
    factor 1.5 covers 1.5 song beats per metronome beat. Exact, so loop passes never drift apart.
    """

    starts: tuple[Fraction, ...] = (Fraction(0),)
    factors: tuple[Fraction, ...] = (Fraction(1),)
    _main_beats: tuple[Fraction, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.starts or self.starts[0] != 0 or len(self.starts) != len(self.factors):
            raise ValueError("tempo factors need one factor per segment, the first segment starting at 0")
        if any(f <= 0 for f in self.factors) or any(a >= b for a, b in pairwise(self.starts)):
            raise ValueError("tempo factors must be positive and their segments in increasing order")
        totals = [Fraction(0)]
        for i in range(1, len(self.starts)):
            totals.append(totals[-1] + (self.starts[i] - self.starts[i - 1]) / self.factors[i - 1])
        object.__setattr__(self, "_main_beats", tuple(totals))

    def factor_at(self, beat: BeatLike) -> Fraction:
        return self.factors[bisect_right(self.starts, Fraction(beat)) - 1]

    def main_beats_at(self, beat: BeatLike) -> Fraction:
        b = Fraction(beat)
        i = bisect_right(self.starts, b) - 1
        return self._main_beats[i] + (b - self.starts[i]) / self.factors[i]


@dataclass(frozen=True)
class EventTrack:
    """Sorted, immutable channel events over a length, the material a `PlaybackCursor` plays.

    Positions are kept as integer ticks for bisection (cheap enough for a scheduler thread) and as exact
    song beats for everything else.
    """

    events: tuple[SongEvent, ...]
    ticks_per_beat: int
    length_ticks: int
    factors: TempoFactors = TempoFactors()
    _ticks: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ticks", tuple(e.tick for e in self.events))

    @property
    def length_beats(self) -> Fraction:
        return Fraction(self.length_ticks, self.ticks_per_beat)

    def index_at(self, beat: BeatLike) -> int:
        """Index of the first event at or after `beat`."""
        return bisect_left(self._ticks, ceil(Fraction(beat) * self.ticks_per_beat))

    def events_between(self, start: BeatLike, end: BeatLike) -> tuple[SongEvent, ...]:
        """Events with start <= beat < end, in send order."""
        return self.events[self.index_at(start) : self.index_at(end)]
