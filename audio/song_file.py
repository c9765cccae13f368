"""Reading a `Song` from a standard MIDI file (type 0 or 1, also inside a RIFF .rmi wrapper).

`load_song` raises only `SongError` for anything wrong with a file, with a message naming the file, the
problem and what to do about it, so the session carries on with the click.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
from collections.abc import Iterable, Mapping
from fractions import Fraction
from math import ceil
from pathlib import Path

import mido
from mido.frozen import freeze_message

from audio.event_track import EventTrack, SongEvent, TempoFactors
from audio.song import MeterChange, Song, TempoChange, tempo_spans
from audio.tempo import TimeSignature

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


_SEND_ORDER = {"note_off": 0, "note_on": 2}
"""At one instant: note-offs first (a repeated note re-sounds), then settings, then note-ons."""


class SongError(Exception):
    """A song file cannot be played; the message names the file, what is wrong and what to do."""

    def __init__(self, path: Path, problem: str, fix: str) -> None:
        self.path = path
        self.problem = problem
        self.fix = fix
        super().__init__(f"{path}: {problem}. {fix}.")


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


def _main_tempo(changes: tuple[TempoChange, ...], length: Fraction) -> int:
    """The tempo covering the most song beats; on a tie, the one heard first."""
    covered: dict[int, Fraction] = {}
    for change, beats in tempo_spans(changes, length):
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
