"""`companion songs` and `companion play`: song details, a client's songs first, one-line errors, JACK."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.engine_takes import CliTake, held_notes, record_cli_midi

from audio.songs import demo_song_paths
from companion.cli import main

DEMOS = {path.stem: path for path in demo_song_paths()}
GRACE = DEMOS["amazing-grace"]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), prog_name="companion")
    return result.exit_code, result.stdout, result.stderr


def test_songs_info_describes_each_file() -> None:
    code, out, _ = run("songs", "info", str(GRACE), str(DEMOS["row-row-row-your-boat"]))
    assert code == 0
    assert out.startswith("Amazing Grace: 17 bars of 3/4, 80 bpm, tempo changes, 0:40\n")
    assert "  tempo:    80 from beat 0, 72 from beat 42, 60 from beat 45" in out
    assert "the metronome's bpm is the song's 6/8 beat (its own speed is 192 bpm)" in out
    assert "  notes:    144 on channels 1, 2" in out


def test_songs_info_names_a_bad_file_and_goes_on(tmp_path: Path) -> None:
    mp3 = tmp_path / "favourite.mp3"
    mp3.write_bytes(b"ID3\x04" + bytes(64))
    code, out, err = run("songs", "info", str(mp3), str(GRACE))
    assert code == 1
    assert err.strip() == (
        f"companion songs info: error: {mp3}: this is an MP3 audio recording, not a MIDI file. "
        "Companion plays songs from MIDI files (.mid): find or export a MIDI version of the song."
    )
    assert out.startswith("Amazing Grace")


def test_songs_list_puts_the_client_s_songs_first(tmp_path: Path) -> None:
    mine = tmp_path / "moana.mid"
    mine.write_bytes(DEMOS["twinkle-twinkle-little-star"].read_bytes())
    gone = tmp_path / "gone.mid"
    data = ["--data-dir", str(tmp_path / "data")]
    assert run(*data, "clients", "add", "Ava", "--song", str(mine), "--song", str(gone))[0] == 0
    code, out, _ = run(*data, "songs", "list", "--client", "ava")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "  1  * Twinkle, Twinkle, Little Star: 12 bars of 4/4, 100 bpm, 0:29"
    assert lines[1] == f"     {mine}"
    assert lines[2].startswith(f"  2  * gone.mid: cannot play: {gone}: the file does not exist.")
    assert [line[5:].split(":")[0] for line in lines[3::2]] == [
        "Amazing Grace",
        "Row, Row, Row Your Boat",
        "Twinkle, Twinkle, Little Star",
        "Yankee Doodle",
    ]
    assert (
        run(*data, "songs", "list", "--client", "Zed")[2].strip().endswith("(see `companion clients list`)")
    )


def test_songs_add_and_remove_keep_the_client_s_list(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    assert run(*data, "clients", "add", "Ben")[0] == 0
    broken = tmp_path / "broken.mid"
    broken.write_bytes(GRACE.read_bytes()[:50])
    code, out, err = run(*data, "songs", "add", "ben", str(GRACE), str(broken), str(DEMOS["yankee-doodle"]))
    assert code == 1 and out.strip() == "Ben has 2 preferred songs"
    assert err.startswith(f"companion songs add: error: {broken}: ")
    assert run(*data, "songs", "add", "Ben", str(GRACE))[1].strip() == "Ben has 2 preferred songs"  # no twice
    listed = run(*data, "songs", "list", "--client", "Ben")[1].splitlines()
    assert [line[:20] for line in listed[:4:2]] == ["  1  * Amazing Grace", "  2  * Yankee Doodle"]
    assert run(*data, "songs", "remove", "Ben", "1") == (0, f"removed {GRACE}\n", "")
    code, _, err = run(*data, "songs", "remove", "Ben", "5")
    assert code == 2 and "Ben has no preferred song '5': give its number (1-1)" in err
    assert run(*data, "songs", "remove", "Ben", str(DEMOS["yankee-doodle"]))[0] == 0
    assert run(*data, "songs", "list", "--client", "Ben")[1].startswith("  1  Amazing Grace")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bpm", "90"], "give a SONG (a MIDI file) or --groove NAME"),
        ([str(GRACE), "--groove", "waltz", "--bpm", "90"], "play a SONG or a --groove, not both"),
        (
            [str(GRACE), "--bpm", "90", "--meter", "4/4"],
            "--meter is for a groove: Amazing Grace plays in its",
        ),
        (
            ["--groove", "rock", "--meter", "3/4", "--bpm", "90"],
            "the rock groove is in 4/4; for 3/4 use waltz",
        ),
        (["--groove", "salsa", "--bpm", "90"], "Invalid value for '--groove'"),
        (["--groove", "rock", "--loop", "1-2", "--bpm", "90"], "--loop repeats bars of a song"),
        ([str(GRACE), "--loop", "3-99", "--bpm", "90"], "loop bars 3-99: 'Amazing Grace' has only 17 bars"),
        ([str(GRACE), "--loop", "three", "--bpm", "90"], "give bars as A-B, e.g. 5-8, or 'all'"),
        ([str(GRACE), "--start-bar", "18", "--bpm", "90"], "bar 18: 'Amazing Grace' has bars 1-17"),
        ([str(GRACE), "--bpm", "400"], "bpm 400 is out of range: use 20-300 bpm"),
        (["--groove", "rock", "--bpm", "90", "--intensity", "4"], "Invalid value for '--intensity'"),
        ([str(GRACE), "--bpm", "90", "--virtual", "x"], "--midi-port/--virtual need --output midi or both"),
    ],
)
def test_bad_play_arguments_give_one_line_and_exit_2(args: list[str], message: str) -> None:
    code, _, err = run("play", *args)
    assert code == 2, err
    (line,) = err.strip().splitlines()
    assert line.startswith("companion play: error: ") and message in line


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(0, len(GRACE.read_bytes()) - 2))
def test_a_truncated_song_is_one_line_and_exit_1(cut: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "grace.mid"
        path.write_bytes(GRACE.read_bytes()[:cut])
        code, out, err = run("play", str(path), "--bpm", "90", "--seconds", "1")
    assert (code, out) == (1, "")
    (line,) = err.strip().splitlines()
    assert line.startswith(f"companion play: error: {path}: ")
    assert "Traceback" not in err


@pytest.mark.jack
def test_play_a_song_on_a_virtual_midi_port_until_it_ends(jack_server, tmp_path: Path) -> None:
    args = [str(DEMOS["yankee-doodle"]), "--bpm", "240", "--loop", "15-16", "--start-bar", "15", "--no-click"]
    record_cli_midi(["play", *args, "--seconds", "2.6"], "cli-song", check=plays_the_loop_then_stops)


def plays_the_loop_then_stops(take: CliTake) -> None:
    """Bars 15-16 of the song at 240 bpm, no click, every note ended when it stopped."""
    assert take.returncode == 0, take.err
    out, rec = take.out, take.rec
    lines = out.splitlines()
    assert (
        lines[0]
        == "playing Yankee Doodle: 16 bars of 2/4, 112 bpm, 0:17, looping bars 15-16 at 240 bpm in 2/4"
    )
    assert lines[1] == "bar   1, song bar 15   240.0 bpm"
    assert "song bar 16" in out and lines[-1] == "stopped"
    notes = rec.note_ons()
    assert len(notes) >= 8 and not any(note in (76, 77) for _, note, _ in notes)  # song only, no click
    assert held_notes(rec.midi) == Counter()  # the loop wraps and the stop ended every note
