"""Songs from standard MIDI files, placed in beats so the tempo engine can play them at any tempo.

Why beats and not seconds: the therapist sets the tempo (and ramps it during RAS), and a song only helps if
its beat *is* that tempo. So a file's ticks become **song beats** (quarter notes, exact `Fraction`s) and the
file's own tempo map survives only as a curve of **relative tempo factors**:

- The **main tempo** is the file tempo that covers the most song beats; on a tie, the earliest. It is the
  tempo that the target bpm replaces, so a short rubato intro or a closing ritardando never redefines the
  beat. `Song.original_bpm` is the main tempo.
- A section whose file tempo is 1.5x the main tempo plays at 1.5x the target bpm (factor 1.5), so tempo
  changes written into the file are honoured relative to the target.

A `PlaybackCursor` hands the scheduler `(beat, mido.Message)` pairs on a **playback timeline**: metronome
beats counted from where playback began, increasing across loop wrap-arounds and already corrected by the
tempo factors. The engine turns them into seconds with its tempo map (`TempoMap.time_at(beat)`), so ramps and
live tempo changes move the song exactly as they move the click. The cursor also remembers what it has let
sound, so stop, seek, loop wrap-around and device errors always end every note it started.

`load_song` raises only `SongError` for anything wrong with a file, with a message naming the file, the
problem and what to do about it, so the session carries on with the click.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise
from math import ceil, floor
from pathlib import Path
from typing import NamedTuple

import mido
from mido.frozen import FrozenMessage, freeze_message

from audio.tempo import TimeSignature

BeatLike = Fraction | int | float
"""A position or length in quarter-note beats; floats are taken exactly (`Fraction(0.5) == 1/2`)."""

DEFAULT_US_PER_BEAT = 500_000
"""The tempo a MIDI file has until its first set_tempo: 120 quarter notes per minute."""

MAX_FILE_BYTES = 2 * 1024 * 1024
"""Songs are a few kilobytes (a whole orchestral score a few hundred); anything larger was picked by
mistake (an audio file, a disk image), and parsing 15 MB of MIDI took a minute and 3 GB of memory."""

PLAYED_TYPES = frozenset(
    {"note_on", "note_off", "control_change", "program_change", "pitchwheel", "aftertouch", "polytouch"}
)
"""Channel messages a song sends. System exclusive messages are dropped: they can reset or retune the
therapist's keyboard, which a song cue must never do."""

SUSTAIN_PEDAL = 64
CHANNEL_MODE_CONTROLS = 120
"""Controllers from 120 up are channel mode messages (all notes off, reset...): never replayed on a seek."""

_SEND_ORDER = {"note_off": 0, "note_on": 2}
"""At one instant: note-offs first (a repeated note re-sounds), then settings, then note-ons."""


class SongError(Exception):
    """A song file cannot be played; the message names the file, what is wrong and what to do."""

    def __init__(self, path: Path, problem: str, fix: str) -> None:
        self.path = path
        self.problem = problem
        self.fix = fix
        super().__init__(f"{path}: {problem}. {fix}.")


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
        spans = _tempo_spans(self.tempo_changes, self.length_beats)
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


class SoundingNotes:
    """The notes and sustain pedals a receiver holds, from the messages it was sent, so all can be let go.

    A note-off for a note that is not sounding is refused (`admit` returns False): that happens after a seek
    or a loop wrap ended the note early, and the second note-off must not cut a later note of that pitch.
    """

    def __init__(self) -> None:
        self._notes: Counter[tuple[int, int]] = Counter()
        self._pedals: set[int] = set()

    def admit(self, message: mido.Message) -> bool:
        """Record a message about to be sent; False means drop it (an orphan note-off)."""
        if message.type == "note_on":
            self._notes[(message.channel, message.note)] += 1
        elif message.type == "note_off":
            key = (message.channel, message.note)
            if not self._notes[key]:
                return False
            self._notes[key] -= 1
            if not self._notes[key]:
                del self._notes[key]
        elif message.type == "control_change" and message.control == SUSTAIN_PEDAL:
            if message.value >= 64:
                self._pedals.add(message.channel)
            else:
                self._pedals.discard(message.channel)
        return True

    @property
    def notes(self) -> Mapping[tuple[int, int], int]:
        """(channel, note) -> how many times it is sounding."""
        return dict(self._notes)

    def release(self) -> list[mido.Message]:
        """Note-offs (and pedal releases) for everything held, which is then forgotten."""
        offs = [
            mido.Message("note_off", channel=channel, note=note)
            for (channel, note), count in sorted(self._notes.items())
            for _ in range(count)
        ]
        offs += [
            mido.Message("control_change", channel=channel, control=SUSTAIN_PEDAL, value=0)
            for channel in sorted(self._pedals)
        ]
        self._notes.clear()
        self._pedals.clear()
        return offs


class PlaybackCursor:
    """Walks an `EventTrack` for the scheduler: `(playback beat, message)` pairs in order, loops, seeks.

    Playback beats are metronome beats counted from the cursor's start (beat 0): they keep increasing across
    loop wrap-arounds and include the track's tempo factors and `beat_unit`, the metronome beat in quarter
    notes (the engine counts the meter's written beat: 1 in 4/4, 1/2 in 6/8; 3/2 would count dotted
    quarters). The scheduler sends each message at `tempo_map.time_at(origin_beat + beat)`.

    Contract: the scheduler sends what `take_until` returns at its time, and what `seek` and `release` return
    at once; on a seek or stop it hands its unsent look-ahead back (`unsent=`). Then no note is ever left
    hanging. Not thread-safe: one scheduler thread owns it.
    """

    def __init__(
        self,
        track: EventTrack,
        *,
        start: BeatLike = 0,
        loop: BeatRange | None = None,
        beat_unit: BeatLike = 1,
        last_bar_end: BeatLike | None = None,
    ) -> None:
        """`last_bar_end`: where the song's last bar ends, when a final partial bar stops the track short
        of it; a loop may run to there (its rest is silence), so a loop over whole bars keeps the bar."""
        self._track = track
        self._loop_limit = max(track.length_beats, Fraction(last_bar_end or 0))
        self._unit = Fraction(beat_unit)
        if self._unit <= 0:
            raise ValueError(f"beat unit {beat_unit}: must be a positive number of quarter notes")
        self._sounding = SoundingNotes()
        self._loop = self._checked_loop(loop)
        # The current pass: a stretch of song beats played without a jump, from a start, seek or wrap.
        self._pass_start = self._position = self._pass_playback = self._pass_main_beats = self._end = (
            Fraction(0)
        )
        self._index = self._stop_index = 0
        self._finished = False
        self._pending: list[TimedMessage] = []
        self._begin(Fraction(start), Fraction(0))

    @property
    def sounding(self) -> Mapping[tuple[int, int], int]:
        """(channel, note) -> count of notes this cursor has started and not yet ended."""
        return self._sounding.notes

    @property
    def finished(self) -> bool:
        return self._finished and not self._pending

    @property
    def loop(self) -> BeatRange | None:
        return self._loop

    @property
    def position(self) -> Fraction:
        """The song beat reached: where the last event taken sits (or where a pass began)."""
        return self._position

    def next_beat(self) -> Fraction | None:
        """The earliest playback beat at which `take_until` may return something; None when finished.

        It can be a note-off that turns out to be an orphan, so a scheduler may wake up for nothing, but it
        is never later than the next real message.
        """
        if self._pending:
            return self._pending[0].beat
        if self._finished:
            return None
        if self._index < self._stop_index:
            return self._playback_beat(self._track.events[self._index].beat)
        return self._playback_beat(self._end)

    def take_until(self, horizon: BeatLike) -> list[TimedMessage]:
        """Every message with playback beat < `horizon`, in order; the cursor moves past them."""
        limit = Fraction(horizon)
        taken: list[TimedMessage] = []
        while True:
            if self._pending:
                if self._pending[0].beat >= limit:
                    break
                item = self._pending.pop(0)
                if self._sounding.admit(item.message):
                    taken.append(item)
                continue
            if self._finished:
                break
            if self._index < self._stop_index:
                event = self._track.events[self._index]
                beat = self._playback_beat(event.beat)
                if beat >= limit:
                    break
                self._index += 1
                self._position = event.beat
                if self._sounding.admit(event.message):
                    taken.append(TimedMessage(beat, event.message))
                continue
            beat = self._playback_beat(self._end)
            if beat >= limit:
                break
            taken += (TimedMessage(beat, off) for off in self._sounding.release())
            self._end_pass(beat)
        return taken

    def release(self, at: BeatLike, unsent: Iterable[TimedMessage] = ()) -> list[TimedMessage]:
        """Note-offs for everything sounding, to send now: on stop, on a device error, on a tempo re-map.

        `unsent` is what the scheduler took but will no longer send (its look-ahead queue): their note-offs
        and pedal releases are still due, because the cursor counted those notes as ended when it gave them.
        """
        beat = Fraction(at)
        still_due = [m.message for m in unsent if ends_something(m.message)]
        return [TimedMessage(beat, off) for off in still_due + self._sounding.release()]

    def seek(
        self, song_beat: BeatLike, at: BeatLike, unsent: Iterable[TimedMessage] = ()
    ) -> list[TimedMessage]:
        """Continue from `song_beat` at playback beat `at`; returns the note-offs to send now (see `release`).

        Program and controller settings in force at `song_beat` are resent first (at `at`), so a seek into
        the middle of a song sounds as if it had been played from the start.
        """
        target = Fraction(song_beat)
        if target < 0:
            raise ValueError(f"seek to beat {song_beat}: positions start at beat 0")
        offs = self.release(at, unsent)
        self._begin(target, Fraction(at))
        return offs

    def set_loop(self, loop: BeatRange | None) -> None:
        """Loop [start, end) from now on (None stops looping); if playback is already past its end, the song
        plays on to its end instead."""
        self._loop = self._checked_loop(loop)
        self._set_pass_end()

    def _checked_loop(self, loop: BeatRange | None) -> BeatRange | None:
        if loop is None:
            return None
        start, end = Fraction(loop.start), Fraction(loop.end)
        if not 0 <= start < end <= self._loop_limit:
            raise ValueError(
                f"loop beats {start}-{end}: must be a non-empty span inside the song's "
                f"{self._loop_limit} beats"
            )
        return BeatRange(start, end)

    def _begin(self, song_beat: Fraction, playback_beat: Fraction) -> None:
        """Start a pass at `song_beat`, heard at `playback_beat`, after resending the settings in force."""
        self._pass_start = self._position = song_beat
        self._pass_playback = playback_beat
        self._pass_main_beats = self._track.factors.main_beats_at(song_beat)
        self._index = self._track.index_at(song_beat)
        self._finished = False
        self._pending = [TimedMessage(playback_beat, m) for m in self._settings_before(self._index)]
        self._set_pass_end()

    def _set_pass_end(self) -> None:
        if self._loop is not None and self._position < self._loop.end:
            self._end = self._loop.end
        else:
            self._end = max(self._track.length_beats, self._position)
        self._stop_index = self._track.index_at(self._end)

    def _end_pass(self, beat: Fraction) -> None:
        """At the end of a pass: wrap to the loop start, or finish. A wrap resends the settings in force at
        the loop start, so a program change inside the loop does not carry into the next pass."""
        loop = self._loop
        if loop is not None and self._end == loop.end and self._loop_has_events(loop):
            self._begin(loop.start, beat)
        else:
            self._finished = True

    def _loop_has_events(self, loop: BeatRange) -> bool:
        return self._track.index_at(loop.start) < self._track.index_at(loop.end)

    def _playback_beat(self, song_beat: Fraction) -> Fraction:
        main_beats = self._track.factors.main_beats_at(song_beat) - self._pass_main_beats
        return self._pass_playback + main_beats / self._unit

    def _settings_before(self, index: int) -> list[mido.Message]:
        """Programs, controllers and pitch bends in force before event `index` (a sequencer's "chase")."""
        programs: dict[int, mido.Message] = {}
        controls: dict[tuple[int, int], mido.Message] = {}
        bends: dict[int, mido.Message] = {}
        for event in self._track.events[:index]:
            message = event.message
            if message.type == "program_change":
                programs[message.channel] = message
            elif message.type == "control_change" and message.control < CHANNEL_MODE_CONTROLS:
                controls[(message.channel, message.control)] = message
            elif message.type == "pitchwheel":
                bends[message.channel] = message
        return (
            [programs[k] for k in sorted(programs)]
            + [controls[k] for k in sorted(controls)]
            + [bends[k] for k in sorted(bends)]
        )


def ends_something(message: mido.Message) -> bool:
    """A note-off or a sustain pedal release: what must still be sent when a look-ahead is dropped."""
    return message.type == "note_off" or (
        message.type == "control_change" and message.control == SUSTAIN_PEDAL and message.value < 64
    )


def load_song(path: str | os.PathLike[str]) -> Song:
    """Load a type 0 or type 1 standard MIDI file (also inside a RIFF .rmi wrapper); SongError otherwise."""
    source = Path(path)
    return parse_song(_read_song_file(source), source)


def parse_song(data: bytes, source: Path) -> Song:
    """A `Song` from the bytes of a MIDI file; `source` names it in messages and is the fallback title."""
    smf = _unwrap_riff(data, source)
    _check_header(smf, source)
    stream = io.BytesIO(smf)
    try:
        midi = mido.MidiFile(file=stream)
    except EOFError as exc:
        raise SongError(
            source,
            f"the file is truncated: its data stops at byte {len(data)} in the middle of a track",
            "The download or copy was incomplete: copy the file again",
        ) from exc
    except Exception as exc:  # mido reports broken bytes as OSError, ValueError, KeyError, IndexError...
        raise SongError(
            source,
            f"the file is damaged near byte {stream.tell()} ({str(exc) or type(exc).__name__})",
            _EXPORT_AGAIN,
        ) from exc
    return _song_from_tracks(midi.tracks, midi.ticks_per_beat, source)


def _read_song_file(source: Path) -> bytes:
    try:
        size = source.stat().st_size
        if source.is_dir():
            raise SongError(source, "this is a folder, not a MIDI file", "Choose the song's .mid file")
        if size > MAX_FILE_BYTES:
            raise SongError(
                source,
                f"the file is {size / 1_048_576:.1f} MB, far too large for a MIDI song (they are a few KB; "
                f"at most {MAX_FILE_BYTES // 1_048_576} MB is read)",
                "Choose the song's .mid file",
            )
        return source.read_bytes()
    except FileNotFoundError as exc:
        raise SongError(
            source, "the file does not exist", "Check the path, or add the song again if it was moved"
        ) from exc
    except PermissionError as exc:
        raise SongError(
            source, "the file cannot be read (permission denied)", "Make it readable for your user account"
        ) from exc
    except OSError as exc:
        raise SongError(
            source, f"the file cannot be read ({exc.strerror or exc})", "Check the disk or copy the file"
        ) from exc


_OTHER_FORMATS = (
    (b"ID3", "an MP3 audio recording"),
    (b"\xff\xfb", "an MP3 audio recording"),
    (b"fLaC", "a FLAC audio recording"),
    (b"OggS", "an Ogg audio recording"),
    (b"%PDF", "a PDF document (sheet music?)"),
    (b"PK\x03\x04", "a ZIP archive (for example a compressed MusicXML .mxl file)"),
)


def _unwrap_riff(data: bytes, source: Path) -> bytes:
    """The standard MIDI data of a RIFF .rmi file (its "data" chunk); other bytes pass through."""
    if data[:4] != b"RIFF":
        return data
    if data[8:12] != b"RMID":
        kind = "a WAV audio recording" if data[8:12] == b"WAVE" else "a RIFF file that holds no MIDI"
        raise _not_midi(source, kind)
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = data[offset : offset + 4], int.from_bytes(data[offset + 4 : offset + 8], "little")
        if chunk_id == b"data":
            return data[offset + 8 : offset + 8 + size]
        offset += 8 + size + (size & 1)
    raise SongError(
        source, "the RIFF MIDI (.rmi) file has no MIDI data chunk", "Copy the file again or export it as .mid"
    )


_EXPORT_AGAIN = "Export the file again from the program that made it, or use another copy"
_PLAYS_MIDI_ONLY = "Companion plays songs from MIDI files (.mid): find or export a MIDI version of the song"


def _not_midi(source: Path, what: str) -> SongError:
    return SongError(source, f"this is {what}, not a MIDI file", _PLAYS_MIDI_ONLY)


def _check_header(data: bytes, source: Path) -> None:
    """Reject what mido would accept but a tempo-following player cannot use, with the reason."""
    if not data:
        raise SongError(source, "the file is empty (0 bytes)", "Copy the file again")
    if data[:4] != b"MThd":
        if b"MThd".startswith(data[:4]):
            raise SongError(source, "the file is truncated inside its header", "Copy the file again")
        what = next((desc for magic, desc in _OTHER_FORMATS if data.startswith(magic)), None)
        if what is None and data[4:8] == b"ftyp":
            what = "an MP4/M4A audio or video file"
        if what is None:
            raise SongError(
                source,
                "this is not a MIDI file (it does not start with the MIDI header 'MThd')",
                _PLAYS_MIDI_ONLY,
            )
        raise _not_midi(source, what)
    if len(data) < 14:
        raise SongError(source, "the file is truncated inside its header", "Copy the file again")
    header_size, file_type, _, division = struct.unpack(">LHHH", data[4:14])
    if header_size < 6:
        raise SongError(source, f"the MIDI header is damaged (length {header_size})", _EXPORT_AGAIN)
    if file_type == 2:
        raise SongError(
            source,
            "it is a type 2 MIDI file (separate patterns, not one song)",
            "Save it as a type 0 or type 1 MIDI file in a MIDI editor",
        )
    if file_type > 2:
        raise SongError(
            source, f"the MIDI header names an unknown format {file_type} (0 or 1 expected)", _EXPORT_AGAIN
        )
    if division & 0x8000:
        raise SongError(
            source,
            "its timing is SMPTE timecode (frames per second) rather than beats, so it has no beat to follow",
            "Export it again with musical (ticks per quarter note) timing",
        )
    if division == 0:
        raise SongError(source, "the MIDI header says 0 ticks per beat", _EXPORT_AGAIN)


def _song_from_tracks(tracks: Iterable[mido.MidiTrack], ticks_per_beat: int, source: Path) -> Song:
    title = ""
    tempos: dict[int, int] = {}
    meters: dict[int, TimeSignature] = {}
    placed: list[tuple[int, int, int, SongEvent]] = []
    length_ticks = 0
    for track in tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "set_tempo":
                if message.tempo == 0:
                    raise _bad_meta(source, f"a tempo of 0 at beat {Fraction(tick, ticks_per_beat)}")
                tempos[tick] = message.tempo
            elif message.type == "time_signature":
                try:
                    meters[tick] = TimeSignature(message.numerator, message.denominator)
                except ValueError as exc:
                    raise _bad_meta(source, f"an invalid time signature ({exc})") from exc
            elif message.type == "track_name" and not title:
                title = _readable(message.name)
            elif message.type in PLAYED_TYPES:
                if message.type == "note_on" and message.velocity == 0:
                    message = mido.Message("note_off", channel=message.channel, note=message.note)
                event = SongEvent(tick, Fraction(tick, ticks_per_beat), freeze_message(message.copy(time=0)))
                placed.append((tick, _SEND_ORDER.get(message.type, 1), len(placed), event))
        length_ticks = max(length_ticks, tick)
    if not any(e.message.type == "note_on" for *_, e in placed):
        raise SongError(
            source,
            "the file contains no notes",
            "It may hold only lyrics or settings: choose the song's full MIDI file",
        )
    placed.sort(key=lambda p: p[:3])
    tempo_changes = _tempo_changes(tempos, ticks_per_beat)
    length = Fraction(length_ticks, ticks_per_beat)
    main = _main_tempo(tempo_changes, length)
    factors = TempoFactors(
        tuple(c.beat for c in tempo_changes), tuple(Fraction(main, c.us_per_beat) for c in tempo_changes)
    )
    return Song(
        path=source,
        title=title or source.stem.replace("_", " ").replace("-", " ").strip() or source.name,
        track=EventTrack(tuple(p[3] for p in placed), ticks_per_beat, length_ticks, factors),
        tempo_changes=tempo_changes,
        meter_changes=_meter_changes(meters, ticks_per_beat),
        main_us_per_beat=main,
    )


def _bad_meta(source: Path, what: str) -> SongError:
    return SongError(source, f"the file sets {what}", "Correct it in a MIDI editor, or use another copy")


def _readable(text: str) -> str:
    """A track name as people wrote it: mido decodes meta text as Latin-1, most files today are UTF-8."""
    with contextlib.suppress(UnicodeError):
        text = text.encode("latin-1").decode("utf-8")
    return " ".join(text.replace("\x00", " ").split())


def _tempo_changes(tempos: Mapping[int, int], ticks_per_beat: int) -> tuple[TempoChange, ...]:
    """The file's tempo map, starting at beat 0 with MIDI's default tempo unless the file sets one there."""
    changes = [TempoChange(Fraction(0), DEFAULT_US_PER_BEAT)]
    for tick in sorted(tempos):
        change = TempoChange(Fraction(tick, ticks_per_beat), tempos[tick])
        if change.beat == changes[-1].beat:
            changes[-1] = change
        elif change.us_per_beat != changes[-1].us_per_beat:
            changes.append(change)
    return tuple(changes)


def _tempo_spans(changes: tuple[TempoChange, ...], length: Fraction) -> list[tuple[TempoChange, Fraction]]:
    """Each tempo with the song beats it is heard for (0 for changes after the end)."""
    ends = [*(c.beat for c in changes[1:]), length]
    return [
        (change, max(Fraction(0), min(end, length) - change.beat))
        for change, end in zip(changes, ends, strict=True)
    ]


def _main_tempo(changes: tuple[TempoChange, ...], length: Fraction) -> int:
    """The tempo covering the most song beats; on a tie, the one heard first."""
    covered: dict[int, Fraction] = {}
    for change, beats in _tempo_spans(changes, length):
        covered[change.us_per_beat] = covered.get(change.us_per_beat, Fraction(0)) + beats
    longest = max(covered.values())
    return next(c.us_per_beat for c in changes if covered[c.us_per_beat] == longest)


def _meter_changes(meters: Mapping[int, TimeSignature], ticks_per_beat: int) -> tuple[MeterChange, ...]:
    """Time signatures with bar numbers; a change off a bar line starts a new bar, as sequencers count."""
    changes = [MeterChange(Fraction(0), 1, meters.get(0, TimeSignature(4, 4)))]
    for tick in sorted(meters):
        beat = Fraction(tick, ticks_per_beat)
        if beat == 0:
            continue
        previous = changes[-1]
        bar = previous.bar + ceil((beat - previous.beat) / previous.signature.bar_beats)
        if meters[tick] != previous.signature:
            changes.append(MeterChange(beat, bar, meters[tick]))
    return tuple(changes)
