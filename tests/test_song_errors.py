"""Bad song files: each gives a SongError naming the file, the problem and the fix, and nothing else escapes.

The fuzz tests feed random bytes, truncated and bit-flipped real files to the loader: it must either load a
song that then plays cleanly (every note it starts also ends) or raise SongError, never anything else.
"""

from __future__ import annotations

import os
import struct
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audio.song import Song
from audio.song_file import MAX_FILE_BYTES, SongError, load_song, parse_song
from audio.songs import demo_song_paths

DEMO_FILES = {p.name: p.read_bytes() for p in demo_song_paths()}
FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def header(file_type: int = 1, tracks: int = 1, division: int = 480) -> bytes:
    return b"MThd" + struct.pack(">LHHH", 6, file_type, tracks, division)


def track(body: bytes) -> bytes:
    return b"MTrk" + struct.pack(">L", len(body)) + body


END = b"\x00\xff\x2f\x00"
NOTE = b"\x00\x90\x3c\x50\x83\x60\x80\x3c\x40"  # middle C, one beat


def refused(tmp_path: Path, data: bytes, name: str = "song.mid") -> SongError:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(SongError) as caught:
        load_song(path)
    error = caught.value
    assert str(path) in str(error) and error.path == path
    assert error.problem and error.fix
    return error


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "empty"),
        (b"ID3\x04\x00" + bytes(100), "MP3 audio recording"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40), "WAV audio recording"),
        (b"fLaC" + bytes(40), "FLAC"),
        (b"%PDF-1.7\n", "PDF document"),
        (b"X:1\nT:Tune\nK:C\nCDEF|\n", "not a MIDI file"),
        (b"MTh", "truncated inside its header"),
        (b"MThd\x00\x00\x00\x06\x00\x01", "truncated inside its header"),
        (header(file_type=2) + track(NOTE + END), "type 2"),
        (header(file_type=7) + track(NOTE + END), "unknown format 7"),
        (header(division=0xE728) + track(NOTE + END), "SMPTE"),
        (header(division=0) + track(NOTE + END), "0 ticks per beat"),
        (header() + track(NOTE + END)[:-3], "truncated"),
        (header(tracks=2) + track(NOTE + END), "truncated"),
        (header() + track(b"\x00\xf4\x00" + END), "damaged near byte"),
        (header() + track(b"\x00\x90\x3c\xc8" + END), "damaged near byte"),
        (header() + track(b"\x00\xff\x03\x04Solo" + END), "contains no notes"),
        (header() + track(b"\x00\xff\x51\x03\x00\x00\x00" + NOTE + END), "tempo of 0"),
        (header() + track(b"\x00\xff\x58\x04\x00\x02\x18\x08" + NOTE + END), "invalid time signature"),
        (header() + track(b"\x00\xff\x51\x01\x07" + NOTE + END), "damaged near byte"),
        (b"RIFF\x0c\x00\x00\x00RMIDLIST\x00\x00\x00\x00", "no MIDI data chunk"),
    ],
)
def test_bad_bytes_are_named(tmp_path: Path, data: bytes, problem: str) -> None:
    error = refused(tmp_path, data)
    assert problem in error.problem


def test_a_truncated_real_song_says_so(tmp_path: Path) -> None:
    data = DEMO_FILES["amazing-grace.mid"]
    error = refused(tmp_path, data[: len(data) // 2], "amazing-grace.mid")
    assert "truncated" in error.problem and "copy the file again" in error.fix


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SongError, match="does not exist") as caught:
        load_song(tmp_path / "gone.mid")
    assert "gone.mid" in str(caught.value)


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(SongError, match="folder"):
        load_song(tmp_path)


def test_huge_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "disk.img"
    with path.open("wb") as sparse:
        sparse.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(SongError, match="far too large"):
        load_song(path)


def test_unreadable_path(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("a file, not a folder")
    with pytest.raises(SongError, match="cannot be read") as caught:
        load_song(not_a_folder / "song.mid")
    assert "Check the disk" in caught.value.fix


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "locked.mid"
    path.write_bytes(DEMO_FILES["yankee-doodle.mid"])
    path.chmod(0)
    with pytest.raises(SongError, match="permission denied"):
        load_song(path)


def assert_plays_cleanly(song: Song) -> None:
    """Everything a loaded song offers the app works, and playing it through leaves no note hanging."""
    assert song.summary and song.bars >= 1 and song.length_seconds >= 0
    cursor = song.cursor(beat_unit=1)
    sent = cursor.take_until(song.track.factors.main_beats_at(song.length_beats) + 1)
    assert cursor.finished
    held: Counter[tuple[int, int]] = Counter()
    beats = [m.beat for m in sent]
    assert beats == sorted(beats)
    for item in sent:
        key = (item.message.channel, item.message.note) if item.message.type.startswith("note") else None
        if item.message.type == "note_on":
            held[key] += 1
        elif item.message.type == "note_off":
            assert held[key] > 0, "a note-off for a note that was not sounding"
            held[key] -= 1
    assert +held == Counter()


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_never_escape_as_other_errors(data: bytes) -> None:
    loads_or_refuses(data)


@FUZZ
@given(st.binary(max_size=512))
def test_random_track_data_never_escapes(body: bytes) -> None:
    loads_or_refuses(header() + track(body))


@FUZZ
@given(st.sampled_from(sorted(DEMO_FILES)), st.data())
def test_truncated_real_files_never_escape(name: str, data: st.DataObject) -> None:
    full = DEMO_FILES[name]
    loads_or_refuses(full[: data.draw(st.integers(0, len(full) - 1))])


@FUZZ
@given(st.sampled_from(sorted(DEMO_FILES)), st.data())
def test_bit_flipped_real_files_never_escape(name: str, data: st.DataObject) -> None:
    damaged = bytearray(DEMO_FILES[name])
    for position in data.draw(st.lists(st.integers(0, len(damaged) - 1), min_size=1, max_size=8)):
        damaged[position] ^= 1 << data.draw(st.integers(0, 7))
    loads_or_refuses(bytes(damaged))


def loads_or_refuses(data: bytes) -> None:
    try:
        song = parse_song(data, Path("fuzzed.mid"))
    except SongError as error:
        assert "fuzzed.mid" in str(error)
        return
    assert_plays_cleanly(song)
