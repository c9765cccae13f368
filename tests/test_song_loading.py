"""Loading MIDI files into songs: metadata, exact beat positions, tempo factors, bars and the demo files."""

from __future__ import annotations

import importlib.util
import io
import sys
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import mido
import pytest

from audio.song import Loop
from audio.song_file import load_song, parse_song
from audio.songs import demo_song_paths
from audio.tempo import TimeSignature

ROOT = Path(__file__).resolve().parent.parent
SONGS = ROOT / "audio" / "songs"


def midi_file(*tracks: list[mido.Message | mido.MetaMessage], midi_type: int = 1, tpb: int = 480) -> bytes:
    out = io.BytesIO()
    mido.MidiFile(type=midi_type, ticks_per_beat=tpb, tracks=[mido.MidiTrack(t) for t in tracks]).save(
        file=out
    )
    return out.getvalue()


def note(note: int, delta: int, length: int, channel: int = 0) -> list[mido.Message]:
    return [
        mido.Message("note_on", note=note, velocity=90, channel=channel, time=delta),
        mido.Message("note_off", note=note, channel=channel, time=length),
    ]


def tempo(bpm: float, delta: int = 0) -> mido.MetaMessage:
    return mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=delta)


def test_demo_songs_show_title_meter_bars_and_tempo() -> None:
    shown = {p.name: load_song(p) for p in demo_song_paths()}
    facts = {name: (s.title, str(s.meter), s.bars, round(s.original_bpm)) for name, s in shown.items()}
    assert facts == {
        "amazing-grace.mid": ("Amazing Grace", "3/4", 17, 80),
        "row-row-row-your-boat.mid": ("Row, Row, Row Your Boat", "6/8", 16, 96),
        "twinkle-twinkle-little-star.mid": ("Twinkle, Twinkle, Little Star", "4/4", 12, 100),
        "yankee-doodle.mid": ("Yankee Doodle", "2/4", 16, 112),
    }
    twinkle = shown["twinkle-twinkle-little-star.mid"]
    assert twinkle.length_beats == 48
    assert twinkle.length_seconds == pytest.approx(48 * 60 / 100)
    assert twinkle.summary == "Twinkle, Twinkle, Little Star: 12 bars of 4/4, 100 bpm, 0:29"


def test_twinkle_is_type_0_and_the_others_type_1() -> None:
    types = {p.name: mido.MidiFile(p).type for p in demo_song_paths()}
    assert types["twinkle-twinkle-little-star.mid"] == 0
    assert {t for name, t in types.items() if not name.startswith("twinkle")} == {1}


def test_notes_sit_on_exact_song_beats() -> None:
    twinkle = load_song(SONGS / "twinkle-twinkle-little-star.mid")
    melody = [
        (e.beat, e.message.note)
        for e in twinkle.events
        if e.message.type == "note_on" and e.message.channel == 0
    ]
    assert melody[:7] == [(0, 60), (1, 60), (2, 67), (3, 67), (4, 69), (5, 69), (6, 67)]
    assert all(isinstance(beat, Fraction) for beat, _ in melody)

    grace = load_song(SONGS / "amazing-grace.mid")
    first = next(e for e in grace.events if e.message.type == "note_on" and e.message.channel == 0)
    assert (first.beat, first.message.note) == (2, 62)  # the pickup "A-" on beat 3 of the first bar
    eighths = [
        e.beat for e in grace.events_between(3, 6) if e.message.type == "note_on" and e.message.channel == 0
    ]
    assert eighths == [3, 5, Fraction(11, 2)]  # "ma-zing": G half note, then B and G eighths


def test_events_are_sorted_with_note_offs_first_at_an_instant() -> None:
    song = load_song(SONGS / "row-row-row-your-boat.mid")
    keys = [(e.tick, e.message.type == "note_on") for e in song.events]
    assert keys == sorted(keys)
    assert all(e.beat == Fraction(e.tick, song.track.ticks_per_beat) for e in song.events)


def test_events_between_is_half_open() -> None:
    song = load_song(SONGS / "twinkle-twinkle-little-star.mid")
    between = song.events_between(1, 2)
    assert between and all(1 <= e.beat < 2 for e in between)
    assert song.events_between(Fraction(1), 2.0) == between
    assert song.events_between(0, song.length_beats + 1) == song.events


def test_file_tempo_changes_become_factors_relative_to_the_main_tempo() -> None:
    grace = load_song(SONGS / "amazing-grace.mid")
    assert [(c.beat, round(c.bpm)) for c in grace.tempo_changes] == [(0, 80), (42, 72), (45, 60)]
    factors = grace.track.factors
    assert factors.factor_at(10) == 1
    assert factors.factor_at(43) == pytest.approx(72 / 80, rel=1e-5)
    assert factors.factor_at(50) == Fraction(60, 80)
    # At 60 instead of 80 bpm a beat takes 4/3 as long: in main-tempo beats the last 6 song beats last 8.
    assert factors.main_beats_at(51) - factors.main_beats_at(45) == 8


def test_main_tempo_is_the_most_used_not_the_first(tmp_path: Path) -> None:
    conductor = [tempo(60), tempo(120, delta=480)]  # one slow beat of intro, then 120 for eight beats
    data = midi_file(conductor, note(60, 0, 480 * 9))
    song = parse_song(data, tmp_path / "intro.mid")
    assert song.original_bpm == 120
    assert song.track.factors.factor_at(0) == Fraction(1, 2)
    assert song.length_seconds == pytest.approx(1.0 + 8 * 0.5)


def test_main_tempo_tie_goes_to_the_first(tmp_path: Path) -> None:
    data = midi_file([tempo(90), tempo(120, delta=480 * 4)], note(60, 0, 480 * 8))
    assert parse_song(data, tmp_path / "tie.mid").original_bpm == pytest.approx(90, abs=0.001)


def test_default_tempo_and_meter_when_the_file_sets_none(tmp_path: Path) -> None:
    song = parse_song(midi_file(note(60, 0, 480 * 6)), tmp_path / "bare_tune.mid")
    assert song.original_bpm == 120
    assert song.meter == TimeSignature(4, 4)
    assert song.title == "bare tune"
    assert song.bars == 2


def test_title_is_decoded_as_utf8(tmp_path: Path) -> None:
    name = mido.MetaMessage("track_name", name="Fr\u00e8re Jacques".encode().decode("latin-1"))
    song = parse_song(midi_file([name, *note(60, 0, 480)]), tmp_path / "x.mid")
    assert song.title == "Fr\u00e8re Jacques"


def test_note_on_with_velocity_zero_is_a_note_off(tmp_path: Path) -> None:
    track = [
        mido.Message("note_on", note=64, velocity=80),
        mido.Message("note_on", note=64, velocity=0, time=240),
    ]
    song = parse_song(midi_file(track), tmp_path / "running.mid")
    assert [e.message.type for e in song.events] == ["note_on", "note_off"]


def test_system_exclusive_messages_are_not_replayed(tmp_path: Path) -> None:
    track = [mido.Message("sysex", data=[0x7E, 0x7F, 0x09, 0x01]), *note(60, 0, 480)]
    song = parse_song(midi_file(track), tmp_path / "gm-reset.mid")
    assert {e.message.type for e in song.events} == {"note_on", "note_off"}


def test_riff_wrapped_midi_is_unwrapped(tmp_path: Path) -> None:
    smf = (SONGS / "yankee-doodle.mid").read_bytes()
    chunk = b"data" + len(smf).to_bytes(4, "little") + smf + b"\0" * (len(smf) & 1)
    rmi = b"RIFF" + (4 + len(chunk)).to_bytes(4, "little") + b"RMID" + chunk
    path = tmp_path / "yankee.rmi"
    path.write_bytes(rmi)
    assert load_song(path).events == load_song(SONGS / "yankee-doodle.mid").events


def test_bars_follow_meter_changes(tmp_path: Path) -> None:
    conductor = [
        mido.MetaMessage("time_signature", numerator=3, denominator=4),
        mido.MetaMessage("time_signature", numerator=6, denominator=8, time=480 * 6),  # after two 3/4 bars
    ]
    song = parse_song(midi_file(conductor, note(60, 0, 480 * 12)), tmp_path / "m.mid")
    assert [(c.beat, c.bar, str(c.signature)) for c in song.meter_changes] == [(0, 1, "3/4"), (6, 3, "6/8")]
    assert [song.bar_start(b) for b in (1, 2, 3, 4)] == [0, 3, 6, 9]
    assert song.bars == 4
    assert song.bar_at(Fraction(15, 2)) == (3, Fraction(3, 2))
    assert song.loop_beats(Loop(2, 3)) == (3, 9)


def test_loops_outside_the_song_are_refused() -> None:
    song = load_song(SONGS / "yankee-doodle.mid")
    with pytest.raises(ValueError, match="has only 16 bars"):
        song.loop_beats(Loop(15, 17))
    with pytest.raises(ValueError, match="first bar cannot come after the last"):
        Loop(5, 3)


def test_time_signature_reports_bar_and_pulse_lengths() -> None:
    six_eight = TimeSignature.parse("6/8")
    assert (six_eight.bar_beats, six_eight.pulse_beats, six_eight.is_compound) == (3, Fraction(3, 2), True)
    seven_eight = TimeSignature.parse(" 7/8 ")
    assert (seven_eight.bar_beats, seven_eight.pulse_beats) == (Fraction(7, 2), Fraction(1, 2))
    with pytest.raises(ValueError, match=r"e\.g\. 3/4"):
        TimeSignature.parse("three four")
    with pytest.raises(ValueError, match="note value"):
        TimeSignature(4, 3)


@pytest.fixture(scope="module")
def demo_script() -> ModuleType:
    """scripts/make_demo_songs.py, loaded from its path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("make_demo_songs", ROOT / "scripts" / "make_demo_songs.py")
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = script  # its dataclasses look their module up there
    spec.loader.exec_module(script)
    return script


def test_committed_demo_files_are_what_the_script_writes(demo_script: ModuleType) -> None:
    generated = demo_script.build_all()
    committed = {p.name: p.read_bytes() for p in demo_song_paths()}
    assert generated == committed


def test_demo_script_rejects_a_bar_of_the_wrong_length(demo_script: ModuleType) -> None:
    broken = demo_script.Tune("x.mid", "X", "3/4", "C", 90, Fraction(1), "C4 D4 | E4 F4 G4", "C | C")
    with pytest.raises(ValueError, match="bar 1: 2 beats, not 3"):
        demo_script.build(broken)
