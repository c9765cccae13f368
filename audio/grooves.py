"""Built-in drum grooves on General MIDI channel 10, to use as the cue instead of a bare click.

A groove carries the meter the way a band would (a march's bass drum, a waltz's "oom-pah-pah", a rock
backbeat), which clients follow more readily than a click. Each groove is one bar of hits written as drum
grid strings, with three intensity levels: 1 has the fewest instruments and is softest, 3 is fullest. The
hits play through the same `PlaybackCursor` as songs (a one-bar loop that never ends), so the engine
schedules a groove exactly like a song, on its tempo map, ramps included.

Grid strings: one character per step, the steps dividing the bar evenly: `X` accent, `x` normal, `o` soft,
`,` ghost (barely there), `.` rest. So in 4/4 "X.x." is beats 1 and 3, "xoxoxoxo" is eighth notes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import NamedTuple

import mido
from mido.frozen import freeze_message

from audio.event_track import BeatLike, BeatRange, EventTrack, SongEvent
from audio.playback_cursor import PlaybackCursor
from audio.tempo import TimeSignature

DRUM_CHANNEL = 9
"""General MIDI percussion: "channel 10" to musicians, 9 counting from 0 as mido does."""

TICKS_PER_BEAT = 960
"""Divisible by 2, 3, 4, 8, 16 and 64: every grid position below is a whole tick."""

MAX_GATE = Fraction(1, 8)
"""Drum notes are hits; a short note-off keeps modules that honour note-offs from cutting the sound late."""

INTENSITIES = (1, 2, 3)
LEVEL_SCALE = {1: 0.75, 2: 0.9, 3: 1.0}
STROKE_VELOCITY = {"X": 112, "x": 88, "o": 56, ",": 40}

# General MIDI percussion key numbers.
ACOUSTIC_BASS_DRUM, BASS_DRUM, SIDE_STICK, SNARE = 35, 36, 37, 38
CLOSED_HI_HAT, PEDAL_HI_HAT, OPEN_HI_HAT = 42, 44, 46
CRASH_CYMBAL, RIDE_CYMBAL, TAMBOURINE, MARACAS, OPEN_TRIANGLE = 49, 51, 54, 70, 81


class PatternHit(NamedTuple):
    """One drum stroke: `beat` in quarter notes from the bar line."""

    beat: Fraction
    note: int
    velocity: int


@dataclass(frozen=True)
class Line:
    """One instrument's grid in a bar, and the intensity levels that play it."""

    levels: str
    note: int
    strokes: str


@dataclass(frozen=True)
class Groove:
    """A named one-bar drum pattern; `signature` None means it fits any meter (the lullaby pulse)."""

    name: str
    description: str
    signature: TimeSignature | None
    pattern: Callable[[TimeSignature], tuple[Line, ...]]

    def __reduce__(self) -> tuple[Callable[[str], Groove], tuple[str]]:
        """Pickled by name (its pattern is code): a groove cue travels to the engine process as the
        built-in groove of that name."""
        return _built_in, (self.name,)

    def meter_for(self, meter: TimeSignature | str | None = None) -> TimeSignature:
        """The meter this groove plays in when the session is in `meter` (ValueError if it cannot)."""
        wanted = TimeSignature.parse(meter) if isinstance(meter, str) else meter
        if self.signature is None:
            return wanted or TimeSignature(4, 4)
        if wanted is not None and wanted != self.signature:
            fits = groove_for_meter(wanted).name
            raise ValueError(f"the {self.name} groove is in {self.signature}; for {wanted} use {fits}")
        return self.signature

    def hits(self, intensity: int = 2, meter: TimeSignature | str | None = None) -> tuple[PatternHit, ...]:
        """The strokes of one bar at `intensity` (1-3), in time order."""
        if intensity not in INTENSITIES:
            raise ValueError(f"intensity {intensity}: choose 1 (soft, few instruments), 2 or 3 (full)")
        signature = self.meter_for(meter)
        bar = signature.bar_beats
        hits = [
            PatternHit(
                step * bar / len(line.strokes),
                line.note,
                round(STROKE_VELOCITY[mark] * LEVEL_SCALE[intensity]),
            )
            for line in self.pattern(signature)
            if str(intensity) in line.levels
            for step, mark in enumerate(line.strokes)
            if mark != "."
        ]
        return tuple(sorted(hits))

    def track(self, intensity: int = 2, meter: TimeSignature | str | None = None) -> EventTrack:
        """One bar of note-ons and short note-offs on the drum channel, ready for a cursor."""
        signature = self.meter_for(meter)
        bar = signature.bar_beats
        finest_step = min(bar / len(line.strokes) for line in self.pattern(signature))
        gate = min(MAX_GATE, finest_step / 2)  # every note ends before the next stroke can come
        placed = []
        for hit in self.hits(intensity, signature):
            on = mido.Message("note_on", channel=DRUM_CHANNEL, note=hit.note, velocity=hit.velocity)
            off = mido.Message("note_off", channel=DRUM_CHANNEL, note=hit.note)
            placed += [(hit.beat + gate, 0, off), (hit.beat, 1, on)]
        placed.sort(key=lambda p: (p[0], p[1]))
        events = tuple(SongEvent(_ticks(beat), beat, freeze_message(message)) for beat, _, message in placed)
        return EventTrack(events, TICKS_PER_BEAT, _ticks(bar))

    def cursor(
        self,
        intensity: int = 2,
        meter: TimeSignature | str | None = None,
        *,
        beat_unit: BeatLike | None = None,
    ) -> GrooveCursor:
        """An endless cursor on this groove. `beat_unit` is the metronome beat in quarter notes; by default
        the meter's written beat, which is what the engine counts (see `PlaybackCursor`)."""
        signature = self.meter_for(meter)
        return GrooveCursor(
            self, intensity, signature, signature.note_beats if beat_unit is None else beat_unit
        )


class GrooveCursor(PlaybackCursor):
    """Plays a groove bar after bar; an intensity change takes effect at the next bar line."""

    def __init__(self, groove: Groove, intensity: int, meter: TimeSignature, beat_unit: BeatLike) -> None:
        self._groove = groove
        self._meter = meter
        self._intensity = intensity
        self._next_track: EventTrack | None = None
        track = groove.track(intensity, meter)
        super().__init__(track, loop=BeatRange(Fraction(0), track.length_beats), beat_unit=beat_unit)

    @property
    def groove(self) -> Groove:
        return self._groove

    @property
    def intensity(self) -> int:
        """The intensity asked for last (heard from the next bar line on)."""
        return self._intensity

    def set_intensity(self, intensity: int) -> None:
        self._next_track = self._groove.track(intensity, self._meter)
        self._intensity = intensity

    def _end_pass(self, beat: Fraction) -> None:
        if self._next_track is not None:
            self._track, self._next_track = self._next_track, None
        super()._end_pass(beat)


def _ticks(beat: Fraction) -> int:
    exact = beat * TICKS_PER_BEAT
    if exact.denominator != 1:
        raise ValueError(f"groove position {beat} is not on the {TICKS_PER_BEAT}-per-beat grid")
    return int(exact)


def _built_in(name: str) -> Groove:
    return GROOVES[name]


def _fixed(*lines: Line) -> Callable[[TimeSignature], tuple[Line, ...]]:
    return lambda _signature: lines


def _pulse_lines(signature: TimeSignature) -> tuple[Line, ...]:
    """The lullaby in any meter: a soft bass drum on every felt beat, shaker and triangle as it grows."""
    pulses = int(signature.bar_beats / signature.pulse_beats)
    split = 3 if signature.is_compound else 2
    return (
        Line("123", ACOUSTIC_BASS_DRUM, "o" + "," * (pulses - 1)),
        Line("23", MARACAS, ("." + "," * (split - 1)) * pulses),
        Line("3", OPEN_TRIANGLE, "," + "." * (pulses - 1)),
    )


GROOVES: Mapping[str, Groove] = MappingProxyType(
    {
        groove.name: groove
        for groove in (
            Groove(
                "march",
                "2/4 march: bass drum on both beats, snare on the off-beats, cymbal and drag at full",
                TimeSignature(2, 4),
                _fixed(
                    Line("123", BASS_DRUM, "X.x."),
                    Line("23", SNARE, ".x.x"),
                    Line("3", CRASH_CYMBAL, "o..."),
                    Line("3", SNARE, ".......o"),
                ),
            ),
            Groove(
                "waltz",
                "3/4 waltz: bass on 1, light strokes on 2 and 3 (oom-pah-pah), ride eighths at full",
                TimeSignature(3, 4),
                _fixed(
                    Line("123", BASS_DRUM, "X.."),
                    Line("123", PEDAL_HI_HAT, ".xx"),
                    Line("23", SIDE_STICK, ".oo"),
                    Line("3", RIDE_CYMBAL, "xoxoxo"),
                ),
            ),
            Groove(
                "rock",
                "4/4 rock/pop: kick on 1 and 3, snare backbeat on 2 and 4, hi-hat eighths from level 2",
                TimeSignature(4, 4),
                _fixed(
                    Line("123", BASS_DRUM, "X.x."),
                    Line("3", BASS_DRUM, ".....x.."),
                    Line("123", SNARE, ".X.X"),
                    Line("2", CLOSED_HI_HAT, "xoxoxoxo"),
                    Line("3", CLOSED_HI_HAT, "xoxoxox."),
                    Line("3", OPEN_HI_HAT, ".......x"),
                ),
            ),
            Groove(
                "shuffle68",
                "6/8 swing in two: kick on 1 (and 4 at level 1), snare on 4, hi-hat eighths from level 2",
                TimeSignature(6, 8),
                _fixed(
                    Line("1", BASS_DRUM, "X..x.."),
                    Line("23", BASS_DRUM, "X....."),
                    Line("3", BASS_DRUM, ".....o"),
                    Line("23", SNARE, "...X.."),
                    Line("23", CLOSED_HI_HAT, "xooxoo"),
                    Line("3", TAMBOURINE, "...x.."),
                ),
            ),
            Groove(
                "lullaby",
                "a slow, soft pulse in any meter: bass drum on each beat, shaker and triangle as it grows",
                None,
                _pulse_lines,
            ),
        )
    }
)

_DEFAULT_FOR_METER = {"2/4": "march", "3/4": "waltz", "4/4": "rock", "6/8": "shuffle68"}


def groove_for_meter(meter: TimeSignature | str) -> Groove:
    """The default groove for a session meter: the one written in it, else the lullaby pulse (5/4, 7/8...)."""
    signature = TimeSignature.parse(meter) if isinstance(meter, str) else meter
    return GROOVES[_DEFAULT_FOR_METER.get(str(signature), "lullaby")]
