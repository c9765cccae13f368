"""The tempo settings a therapist makes: bpm, meter, accents, subdivision, swing, count-in and ramps.

Every value is checked where it is made, and a TempoError names the value and what is accepted, so a
mistake surfaces in the plan or the dialog, never while clicks play. Numbers are exact `Fraction`s (0.2 is
1/5) because the tempo map (`audio.tempo_map`) computes every beat time from them without rounding.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from fractions import Fraction
from typing import Any

MIN_BPM = 20
MAX_BPM = 300
MAX_RAMP_BEATS = 2048
"""Linear ramps change tempo every beat; longer ramps than this are not a gait or instrument exercise."""

Number = int | float | str | Fraction


class TempoError(ValueError):
    """A tempo setting that cannot be played; the message names the value and the accepted range."""


class Level(enum.Enum):
    """How loud and which sound a click is: the accent on a bar's first beat, a plain beat, a subdivision."""

    ACCENT = "accent"
    BEAT = "beat"
    SUB = "sub"
    SILENT = "silent"


_LEVEL_CODES = {"A": Level.ACCENT, "B": Level.BEAT, "S": Level.SUB, "-": Level.SILENT, ".": Level.SILENT}


def exact(value: Number, what: str) -> Fraction:
    """Turn a user number into an exact Fraction; decimals keep their written value (0.2 is 1/5)."""
    if isinstance(value, bool):
        raise TempoError(f"{what} must be a number, not {value!r}")
    try:
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError
            return Fraction(repr(value))
        return Fraction(value)
    except (ValueError, TypeError, ZeroDivisionError):
        raise TempoError(f"{what} must be a number, not {value!r}") from None


def check_bpm(value: Number, what: str = "bpm") -> Fraction:
    """Return the bpm as a Fraction, or raise a TempoError naming the accepted range."""
    bpm = exact(value, what)
    if not MIN_BPM <= bpm <= MAX_BPM:
        raise TempoError(f"{what} {float(bpm):g} is out of range: use {MIN_BPM}-{MAX_BPM} bpm")
    return bpm


NOTE_VALUES = (1, 2, 4, 8, 16, 32, 64)
"""The note values a time signature may have: what a standard MIDI file can write."""

PLAYABLE_NOTE_VALUES = (1, 2, 4, 8, 16)
MAX_BEATS_PER_BAR = 32
"""The engine counts every written beat and accents each one, so it plays fewer meters than a MIDI file can
name: a song in 5/32 still loads (and plays in the session's meter), the metronome cannot count it."""


@dataclass(frozen=True)
class TimeSignature:
    """A meter as written (3/4, 6/8...): `beats` counts of the note value `unit` per bar.

    One beat is one count of the numerator's note value (the engine's 6/8 has six beats); the lengths the
    songs and grooves need are in quarter notes. Any meter a MIDI file can write is valid here; what the
    engine can count is checked by `TempoSettings`.
    """

    beats: int
    unit: int

    def __post_init__(self) -> None:
        if not 1 <= self.beats <= 255:
            raise TempoError(f"meter {self}: the number of beats must be 1-255")
        if self.unit not in NOTE_VALUES:
            raise TempoError(f"meter {self}: the note value must be 1, 2, 4, 8, 16, 32 or 64")

    @classmethod
    def parse(cls, text: str) -> TimeSignature:
        """Read "3/4", " 6 / 8 "...; raise TempoError with an example on anything else."""
        return cls(*read_time_signature(text))

    @property
    def is_compound(self) -> bool:
        """6/8, 9/8, 12/8...: the felt beat is a dotted note holding three of the written ones."""
        return self.unit >= 8 and self.beats % 3 == 0 and self.beats > 3

    @property
    def bar_beats(self) -> Fraction:
        """Length of one bar in quarter notes (6/8 -> 3)."""
        return Fraction(4 * self.beats, self.unit)

    @property
    def note_beats(self) -> Fraction:
        """The written beat (the numerator's note value) in quarter notes: 6/8 -> 1/2.

        This is the beat the tempo engine counts (its 6/8 has six beats), so it is the default `beat_unit`
        of song and groove cursors: a song in 6/8 then plays its eighth notes at the metronome's bpm.
        """
        return Fraction(4, self.unit)

    @property
    def pulse_beats(self) -> Fraction:
        """Length of the felt beat in quarter notes (4/4 -> 1, 6/8 -> 3/2, 7/8 -> 1/2)."""
        return Fraction(12 if self.is_compound else 4, self.unit)

    def default_accents(self) -> tuple[Level, ...]:
        """Accent on one; in compound meters each group of three starts with a beat and the rest are light."""
        if self.is_compound:
            return tuple(
                Level.ACCENT if i == 0 else Level.BEAT if i % 3 == 0 else Level.SUB for i in range(self.beats)
            )
        return (Level.ACCENT,) + (Level.BEAT,) * (self.beats - 1)

    def __str__(self) -> str:
        return f"{self.beats}/{self.unit}"


def read_time_signature(text: str) -> tuple[int, int]:
    """The two numbers of "beats/note value", checked for shape only (plans apply their own range)."""
    top, sep, bottom = str(text).strip().partition("/")
    top, bottom = top.strip(), bottom.strip()
    if not sep or not top.isdecimal() or not bottom.isdecimal():
        raise TempoError(
            f"meter {text!r} is not a time signature: write it as beats/note value, e.g. 3/4 or 6/8"
        )
    return int(top), int(bottom)


def check_playable(meter: TimeSignature) -> TimeSignature:
    """Return `meter`, or raise a TempoError when the engine cannot count it."""
    if meter.beats > MAX_BEATS_PER_BAR:
        raise TempoError(f"meter {meter}: beats per bar must be 1-{MAX_BEATS_PER_BAR}")
    if meter.unit not in PLAYABLE_NOTE_VALUES:
        raise TempoError(f"meter {meter}: the note value must be 1, 2, 4, 8 or 16")
    return meter


def parse_accents(value: str | Sequence[str | Level], beats: int) -> tuple[Level, ...]:
    """Accept level names ("accent,beat,beat" or a list) or one code per beat ("Abb", "A-B-": A accent,
    B beat, S sub, - or . silent); the pattern must have one level per beat of the bar."""
    items: Sequence[str | Level]
    if isinstance(value, str):
        words = value.replace(",", " ").split()
        names = {lv.value for lv in Level}
        items = words if len(words) > 1 or value.strip().lower() in names else list(value.strip())
    else:
        items = value
    levels: list[Level] = []
    for item in items:
        if isinstance(item, Level):
            levels.append(item)
        elif len(item) == 1 and item.upper() in _LEVEL_CODES:
            levels.append(_LEVEL_CODES[item.upper()])
        elif item.lower() in {lv.value for lv in Level}:
            levels.append(Level(item.lower()))
        else:
            raise TempoError(f"accent {item!r} is not a level: use accent, beat, sub, silent (or A, B, S, -)")
    if len(levels) != beats:
        raise TempoError(f"accent pattern has {len(levels)} levels but the bar has {beats} beats")
    return tuple(levels)


@dataclass(frozen=True, kw_only=True)
class LinearRamp:
    """Tempo moves from `from_bpm` (default: the starting bpm) to `to_bpm` in equal steps over `beats`."""

    to_bpm: Fraction
    beats: int
    from_bpm: Fraction | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "to_bpm", check_bpm(self.to_bpm, "ramp to_bpm"))
        if self.from_bpm is not None:
            object.__setattr__(self, "from_bpm", check_bpm(self.from_bpm, "ramp from_bpm"))
        if not isinstance(self.beats, int) or not 1 <= self.beats <= MAX_RAMP_BEATS:
            raise TempoError(f"ramp beats {self.beats!r} is out of range: use 1-{MAX_RAMP_BEATS}")

    def steps(self, start_bpm: Fraction, beats_per_bar: int) -> list[tuple[int, Fraction]]:
        """(beat offset, bpm) pairs: beat k of the ramp plays at from + (to - from) * k / beats."""
        begin = self.from_bpm if self.from_bpm is not None else start_bpm
        return [(k, begin + (self.to_bpm - begin) * k / self.beats) for k in range(self.beats + 1)]


@dataclass(frozen=True, kw_only=True)
class StepRamp:
    """RAS-style progression: change tempo by `percent` every `every_bars` bars until `max_bpm` is reached.

    A negative percent slows down; `max_bpm` is then the floor. Without it the ramp stops at the bpm limit.
    """

    percent: Fraction
    every_bars: int
    max_bpm: Fraction | None = None

    def __post_init__(self) -> None:
        percent = exact(self.percent, "ramp percent")
        if percent == 0 or not -50 <= percent <= 100:
            raise TempoError(f"ramp percent {float(percent):g} is out of range: use -50..100, not 0")
        object.__setattr__(self, "percent", percent)
        if self.max_bpm is not None:
            object.__setattr__(self, "max_bpm", check_bpm(self.max_bpm, "ramp max_bpm"))
        if not isinstance(self.every_bars, int) or not 1 <= self.every_bars <= 1000:
            raise TempoError(f"ramp every_bars {self.every_bars!r} is out of range: use 1-1000")

    def steps(self, start_bpm: Fraction, beats_per_bar: int) -> list[tuple[int, Fraction]]:
        """(beat offset, bpm) pairs; the last step lands exactly on the limit instead of passing it."""
        rising = self.percent > 0
        limit = self.max_bpm if self.max_bpm is not None else Fraction(MAX_BPM if rising else MIN_BPM)
        factor = 1 + self.percent / 100
        steps = [(0, start_bpm)]
        bpm = start_bpm
        while (bpm < limit) if rising else (bpm > limit):
            bpm = min(bpm * factor, limit) if rising else max(bpm * factor, limit)
            steps.append((len(steps) * self.every_bars * beats_per_bar, bpm))
        return steps


Ramp = LinearRamp | StepRamp


def _ramp_from_mapping(data: Mapping[str, Any]) -> Ramp:
    kind = data.get("kind")
    try:
        if kind == "linear":
            return LinearRamp(
                to_bpm=data["to_bpm"],
                beats=data["beats"],
                from_bpm=data.get("from_bpm"),
            )
        if kind == "percent":
            return StepRamp(
                percent=data["percent"], every_bars=data["every_bars"], max_bpm=data.get("max_bpm")
            )
    except KeyError as missing:
        raise TempoError(f"ramp of kind {kind!r} needs {missing.args[0]!r}") from None
    raise TempoError(f"ramp kind {kind!r} is unknown: use 'linear' or 'percent'")


def _subdivision(value: int | str) -> int:
    if value == "triplet":
        return 3
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4:
        raise TempoError(f"subdivision {value!r} is out of range: use 1-4 or 'triplet'")
    return value


@dataclass(frozen=True)
class TempoSettings:
    """Everything that decides when clicks fall and how they sound, as a therapist sets it.

    Build it with keywords (`TempoSettings(bpm=96, meter=TimeSignature.parse("3/4"))`) or from a plan's plain
    values with `from_mapping`. Invalid values raise TempoError naming the value and what is accepted.
    """

    bpm: Fraction
    meter: TimeSignature = field(default_factory=lambda: TimeSignature(4, 4))
    accents: tuple[Level, ...] | None = None
    subdivision: int = 1
    swing: Fraction = Fraction(0)
    count_in_bars: int = 0
    ramp: Ramp | None = None
    bpm_min: Fraction | None = None
    bpm_max: Fraction | None = None
    cue: str = "click"
    """What the plan wants heard: "click", a groove name or "preferred-song". The tempo map ignores it;
    the app routes it to a groove or song player that follows this map."""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "bpm", check_bpm(self.bpm))
        meter = TimeSignature.parse(self.meter) if isinstance(self.meter, str) else self.meter
        set_(self, "meter", check_playable(meter))
        accents = self.meter.default_accents() if self.accents is None else self.accents
        set_(self, "accents", parse_accents(accents, self.meter.beats))
        set_(self, "subdivision", _subdivision(self.subdivision))
        swing = exact(self.swing, "swing")
        if not 0 <= swing <= Fraction(1, 2):
            raise TempoError(f"swing {float(swing):g} is out of range: use 0-0.5 (1/3 is triplet swing)")
        set_(self, "swing", swing)
        if isinstance(self.count_in_bars, bool) or not isinstance(self.count_in_bars, int):
            raise TempoError(f"count-in {self.count_in_bars!r} must be a whole number of bars")
        if not 0 <= self.count_in_bars <= 8:
            raise TempoError(f"count-in {self.count_in_bars} bars is out of range: use 0-8")
        for name in ("bpm_min", "bpm_max"):
            value = getattr(self, name)
            if value is not None:
                set_(self, name, check_bpm(value, name))
        low = self.bpm_min if self.bpm_min is not None else MIN_BPM
        high = self.bpm_max if self.bpm_max is not None else MAX_BPM
        if not low <= self.bpm <= high:
            raise TempoError(
                f"bpm {float(self.bpm):g} is outside this plan's range {float(low):g}-{float(high):g}"
            )

    @property
    def levels(self) -> tuple[Level, ...]:
        """The accent level of each beat in the bar (never None after construction)."""
        assert self.accents is not None
        return self.accents

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> TempoSettings:
        """Build from an intervention plan's tempo table.

        Keys: bpm, bpm_min, bpm_max, meter ("3/4"), subdivision (1-4 or "triplet"), accents (list of level
        names), swing (0-0.5), count_in_bars, cue, ramp ({kind "linear", to_bpm, beats} or
        {kind "percent", percent, every_bars, max_bpm}). Unknown keys are an error, so typos surface.
        """
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise TempoError(f"unknown tempo setting(s) {sorted(unknown)}: use {sorted(known)}")
        if "bpm" not in data:
            raise TempoError("a tempo needs 'bpm'")
        ramp = data.get("ramp")
        return cls(
            bpm=data["bpm"],
            meter=TimeSignature.parse(data.get("meter", "4/4")),
            accents=data.get("accents"),
            subdivision=data.get("subdivision", 1),
            swing=data.get("swing", 0),
            count_in_bars=data.get("count_in_bars", 0),
            ramp=_ramp_from_mapping(ramp) if ramp is not None else None,
            bpm_min=data.get("bpm_min"),
            bpm_max=data.get("bpm_max"),
            cue=str(data.get("cue", "click")),
        )

    def with_changes(self, **changes: Any) -> TempoSettings:
        """A copy with some fields replaced and validated again (e.g. a new bpm keeps meter and accents)."""
        if "meter" in changes and "accents" not in changes:
            changes["accents"] = None
        return replace(self, **changes)

    def sub_offsets(self) -> tuple[Fraction, ...]:
        """Where each subdivision falls within its beat (0 = on the beat); swing delays every second one."""
        n = self.subdivision
        offsets = [Fraction(j, n) for j in range(n)]
        if n % 2 == 0:
            offsets = [o + (self.swing / n if j % 2 else 0) for j, o in enumerate(offsets)]
        return tuple(offsets)
