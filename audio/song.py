"""Songs from standard MIDI files, placed in beats so the tempo engine can play them at any tempo.

Why beats and not seconds: the therapist sets the tempo (and ramps it during RAS), and a song only helps if
its beat *is* that tempo. So a file's ticks become **song beats** (quarter notes, exact `Fraction`s) and the
file's own tempo map survives only as a curve of **relative tempo factors**:

- The **main tempo** is the file tempo that covers the most song beats; on a tie, the earliest. It is the
  tempo that the target bpm replaces, so a short rubato intro or a closing ritardando never redefines the
  beat. `Song.original_bpm` is the main tempo.
- A section whose file tempo is 1.5x the main tempo plays at 1.5x the target bpm (factor 1.5), so tempo
  changes written into the file are honoured relative to the target.

A song plays through a `PlaybackCursor` (`audio.playback_cursor`); a file becomes a `Song` in
`audio.song_file`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import floor
from pathlib import Path
from typing import NamedTuple

from audio.event_track import BeatLike, BeatRange, EventTrack, SongEvent
from audio.playback_cursor import PlaybackCursor
from audio.tempo import TimeSignature


class TempoChange(NamedTuple):
    """A set_tempo in the file: from `beat` on, a quarter note lasts `us_per_beat` microseconds."""

    beat: Fraction
    us_per_beat: int

    @property
    def bpm(self) -> float:
        return 60_000_000 / self.us_per_beat


class MeterChange(NamedTuple):
    """A time signature in the file, with the (1-based) bar it starts."""

    beat: Fraction
    bar: int
    signature: TimeSignature


@dataclass(frozen=True)
class Loop:
    """Bars `first_bar` to `last_bar` inclusive, counted from 1 as a musician says "bars 5-8"."""

    first_bar: int
    last_bar: int

    def __post_init__(self) -> None:
        if self.first_bar < 1 or self.last_bar < self.first_bar:
            raise ValueError(f"loop {self}: bars count from 1 and the first bar cannot come after the last")

    def __str__(self) -> str:
        return f"bars {self.first_bar}-{self.last_bar}"


@dataclass(frozen=True)
class Song:
    """A loaded MIDI file: what to show the therapist, and the events for the scheduler."""

    path: Path
    title: str
    track: EventTrack
    tempo_changes: tuple[TempoChange, ...]
    meter_changes: tuple[MeterChange, ...]
    main_us_per_beat: int

    @property
    def events(self) -> tuple[SongEvent, ...]:
        return self.track.events

    @property
    def original_bpm(self) -> float:
        """The main tempo in quarter notes per minute (see the module docstring)."""
        return 60_000_000 / self.main_us_per_beat

    @property
    def meter(self) -> TimeSignature:
        return self.meter_changes[0].signature

    @property
    def original_meter_bpm(self) -> float:
        """The main tempo counted in the song's written beats (6/8: eighths): the metronome setting at
        which the song plays at its own speed."""
        return self.original_bpm / float(self.meter.note_beats)

    @property
    def length_beats(self) -> Fraction:
        return self.track.length_beats

    @property
    def bars(self) -> int:
        """Bars the song touches (a final partial bar counts)."""
        bar, offset = self.bar_at(self.length_beats)
        return max(1, bar - 1 if offset == 0 else bar)

    @property
    def length_seconds(self) -> float:
        """Duration at the file's own tempi."""
        spans = tempo_spans(self.tempo_changes, self.length_beats)
        return float(sum(beats * change.us_per_beat for change, beats in spans) / 1_000_000)

    def events_between(self, start: BeatLike, end: BeatLike) -> tuple[SongEvent, ...]:
        return self.track.events_between(start, end)

    def bar_start(self, bar: int) -> Fraction:
        """Song beat where `bar` (1-based) begins; ValueError outside the song."""
        if not 1 <= bar <= self.bars + 1:
            raise ValueError(f"bar {bar}: {self.title!r} has bars 1-{self.bars}")
        change = next(c for c in reversed(self.meter_changes) if c.bar <= bar)
        return change.beat + (bar - change.bar) * change.signature.bar_beats

    def bar_at(self, beat: BeatLike) -> tuple[int, Fraction]:
        """(1-based bar, beats into that bar) at a song beat, for showing where playback is."""
        b = Fraction(beat)
        change = next((c for c in reversed(self.meter_changes) if c.beat <= b), self.meter_changes[0])
        whole_bars = floor((b - change.beat) / change.signature.bar_beats)
        return change.bar + whole_bars, b - change.beat - whole_bars * change.signature.bar_beats

    def loop_beats(self, loop: Loop) -> BeatRange:
        """The song beats a bar loop covers; ValueError if the song has fewer bars."""
        if loop.last_bar > self.bars:
            raise ValueError(f"loop {loop}: {self.title!r} has only {self.bars} bars")
        return BeatRange(self.bar_start(loop.first_bar), self.bar_start(loop.last_bar + 1))

    def cursor(
        self, *, start_bar: int = 1, loop: Loop | None = None, beat_unit: BeatLike | None = None
    ) -> PlaybackCursor:
        """A cursor from the start of `start_bar`. `beat_unit` is the metronome beat in quarter notes;
        by default the song's written beat (`TimeSignature.note_beats`), which is what the engine counts."""
        return PlaybackCursor(
            self.track,
            start=self.bar_start(start_bar),
            loop=self.loop_beats(loop) if loop else None,
            beat_unit=self.meter.note_beats if beat_unit is None else beat_unit,
            last_bar_end=self.bar_start(self.bars + 1),
        )

    @property
    def summary(self) -> str:
        """One line for the session screen: title, meter, bars, tempo (in the meter's beats) and duration."""
        minutes, seconds = divmod(round(self.length_seconds), 60)
        meters = ", ".join(dict.fromkeys(str(c.signature) for c in self.meter_changes))
        tempo = f"{self.original_meter_bpm:.0f} bpm"
        if self.meter.is_compound:
            tempo += f" ({self.original_bpm / float(self.meter.pulse_beats):.0f} dotted beats a minute)"
        if len(self.tempo_changes) > 1:
            tempo += ", tempo changes"
        return f"{self.title}: {self.bars} bars of {meters}, {tempo}, {minutes}:{seconds:02d}"


def tempo_spans(changes: tuple[TempoChange, ...], length: Fraction) -> list[tuple[TempoChange, Fraction]]:
    """Each tempo with the song beats it is heard for (0 for changes after the end)."""
    ends = [*(c.beat for c in changes[1:]), length]
    return [
        (change, max(Fraction(0), min(end, length) - change.beat))
        for change, end in zip(changes, ends, strict=True)
    ]
