"""Choosing the cue: a plan's preset name, the client's preferred songs, the session meter; bad files.

Whatever a plan names or a client's record holds, a cue comes back (the one asked for, or a fallback) with
messages naming what could not be used, and nothing raises for a bad file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audio.cues import (
    CLICK,
    GrooveCue,
    SongCue,
    cue_from_preset,
    cue_meter,
    groove_meter,
    settings_for_cue,
    song_choices,
)
from audio.grooves import GROOVES
from audio.song import Loop
from audio.song_file import load_song
from audio.songs import demo_song_paths
from audio.tempo import TempoSettings, TimeSignature
from interventions import Library

DEMOS = {path.stem: path for path in demo_song_paths()}
GRACE, TWINKLE, ROW = (
    DEMOS["amazing-grace"],
    DEMOS["twinkle-twinkle-little-star"],
    DEMOS["row-row-row-your-boat"],
)
FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def broken(tmp_path: Path, name: str = "broken.mid") -> Path:
    path = tmp_path / name
    path.write_bytes(GRACE.read_bytes()[:100])
    return path


def test_click_and_grooves_by_name() -> None:
    assert cue_from_preset("click").cue is CLICK
    waltz = cue_from_preset("waltz", meter="3/4")
    assert waltz.cue == GrooveCue(GROOVES["waltz"]) and waltz.messages == ()
    lullaby = cue_from_preset("Lullaby", meter="5/4", intensity=1)
    assert lullaby.cue == GrooveCue(GROOVES["lullaby"], 1) and lullaby.messages == ()


def test_a_groove_in_another_meter_gives_way_to_the_meter_s_own() -> None:
    selection = cue_from_preset("rock", meter="3/4")
    assert selection.cue == GrooveCue(GROOVES["waltz"])
    assert selection.messages == (
        "the rock groove is in 4/4 and the session in 3/4: playing the waltz groove",
    )
    assert cue_from_preset("rock", meter="2/4").cue == GrooveCue(GROOVES["march"])


def test_a_march_plays_twice_in_a_four_four_bar() -> None:
    selection = cue_from_preset("march", meter="4/4")
    assert selection.cue == GrooveCue(GROOVES["march"]) and selection.messages == ()
    assert groove_meter(GROOVES["march"], TimeSignature(4, 4)) == TimeSignature(2, 4)
    cursor = GrooveCue(GROOVES["march"], 1).cursor(TimeSignature(4, 4))
    kicks = [item.beat for item in cursor.take_until(8) if item.message.type == "note_on"]
    assert kicks == [0, 1, 2, 3, 4, 5, 6, 7]  # the march's bass drum on every beat, bar after bar
    with pytest.raises(ValueError, match="for 6/8 use shuffle68"):
        groove_meter(GROOVES["march"], TimeSignature(6, 8))


def test_an_unknown_cue_plays_the_click_and_lists_the_names() -> None:
    selection = cue_from_preset("samba")
    assert selection.cue is CLICK
    (message,) = selection.messages
    assert "unknown cue 'samba'" in message and "march" in message and "preferred-song" in message


def test_preferred_song_is_the_first_that_loads(tmp_path: Path) -> None:
    bad = broken(tmp_path)
    selection = cue_from_preset("preferred-song", meter="4/4", preferred_songs=[str(bad), str(TWINKLE)])
    assert isinstance(selection.cue, SongCue) and selection.cue.song.title == "Twinkle, Twinkle, Little Star"
    (message,) = selection.messages
    assert str(bad) in message and "truncated" in message


def test_preferred_song_slots(tmp_path: Path) -> None:
    songs = [str(TWINKLE), str(GRACE)]
    second = cue_from_preset("preferred-song-2", preferred_songs=songs)
    assert isinstance(second.cue, SongCue) and second.cue.song.title == "Amazing Grace"
    third = cue_from_preset("preferred-song-3", meter="3/4", preferred_songs=songs)
    assert third.cue == GrooveCue(GROOVES["waltz"])
    assert "preferred song 3 but the client has only 2" in third.messages[0]
    slot_broken = cue_from_preset("preferred-song-1", preferred_songs=[str(broken(tmp_path)), str(GRACE)])
    assert isinstance(slot_broken.cue, GrooveCue)  # slot 1 is broken: no silent switch to slot 2
    assert "broken.mid" in slot_broken.messages[0] and "rock groove" in slot_broken.messages[-1]


def test_no_preferred_songs_says_how_to_add_them() -> None:
    selection = cue_from_preset("preferred-song", meter="2/4")
    assert selection.cue == GrooveCue(GROOVES["march"])
    assert "client has no preferred songs" in selection.messages[0]
    assert "companion songs add CLIENT FILE" in selection.messages[0]


def test_every_cue_named_by_a_shipped_plan_plays_as_asked() -> None:
    library = Library.load(None)
    presets = [plan.tempo for plan in library.plans if plan.tempo is not None]
    assert presets
    for tempo in presets:
        selection = cue_from_preset(tempo.cue, meter=tempo.meter)
        assert selection.messages == (), (tempo.cue, tempo.meter)
        assert selection.cue.name == tempo.cue


def test_song_choices_put_the_client_s_songs_first_then_the_demos(tmp_path: Path) -> None:
    bad = broken(tmp_path)
    choices = song_choices([str(GRACE), str(bad)])
    assert [c.path for c in choices[:2]] == [GRACE, bad]
    assert [c.preferred for c in choices] == [True, True] + [False] * (len(DEMOS) - 1)
    assert GRACE not in [c.path for c in choices[2:]]  # a demo picked as preferred is listed once
    assert choices[0].song is not None and choices[0].problem is None
    assert choices[1].song is None and choices[1].problem is not None and str(bad) in choices[1].problem
    assert choices[1].label.startswith("* broken.mid: cannot play: ")
    assert choices[2].label == load_song(choices[2].path).summary


def test_song_choices_expand_the_home_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "songs").mkdir()
    (tmp_path / "songs" / "boat.mid").write_bytes(ROW.read_bytes())
    (choice, *_) = song_choices(["~/songs/boat.mid", "~/songs/gone.mid"], demos=False)
    assert choice.song is not None and choice.path == tmp_path / "songs" / "boat.mid"
    gone = song_choices(["~/songs/gone.mid"], demos=False)[0]
    assert gone.problem is not None and "does not exist" in gone.problem


def test_the_metronome_takes_the_cue_s_meter() -> None:
    four = TempoSettings(bpm=90, accents="ABBB")
    grace = SongCue(load_song(GRACE))
    waltz, note = settings_for_cue(four, grace)
    assert (waltz.meter, note) == (TimeSignature(3, 4), None)
    assert waltz.levels == TimeSignature(3, 4).default_accents() and waltz.bpm == 90
    row, _ = settings_for_cue(four, SongCue(load_song(ROW)))
    assert row.meter == TimeSignature(6, 8)
    assert settings_for_cue(four, GrooveCue(GROOVES["lullaby"]))[0] is four
    assert settings_for_cue(four, GrooveCue(GROOVES["march"]))[0] is four  # two march bars a bar
    assert settings_for_cue(four, CLICK)[0] is four
    three = TimeSignature(3, 4)
    assert cue_meter(GrooveCue(GROOVES["march"]), three) == TimeSignature(2, 4)
    assert cue_meter(GrooveCue(GROOVES["lullaby"]), three) == three


def test_a_meter_the_metronome_cannot_count_is_kept_with_a_note(tmp_path: Path) -> None:
    import mido

    path = tmp_path / "odd.mid"
    track = mido.MidiTrack(
        [
            mido.MetaMessage("time_signature", numerator=9, denominator=32),
            mido.Message("note_on", note=60, velocity=80),
            mido.Message("note_off", note=60, time=480),
        ]
    )
    mido.MidiFile(tracks=[track]).save(path)
    kept, note = settings_for_cue(TempoSettings(bpm=90), SongCue(load_song(path)))
    assert kept.meter == TimeSignature(4, 4)
    assert note is not None and "9/32" in note and "kept 4/4" in note


def test_song_cues_check_their_bars() -> None:
    song = load_song(TWINKLE)
    with pytest.raises(ValueError, match="has bars 1-12"):
        SongCue(song, start_bar=13)
    with pytest.raises(ValueError, match="has only 12 bars"):
        SongCue(song, loop=Loop(11, 13))
    with pytest.raises(ValueError, match="intensity 4"):
        GrooveCue(GROOVES["rock"], 4)
    assert "looping bars 2-3" in SongCue(song, loop=Loop(2, 3)).summary


@FUZZ
@given(data=st.binary(max_size=600))
def test_random_bytes_as_a_preferred_song_never_stop_the_session(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "favourite.mid"
        path.write_bytes(data)
        (choice,) = song_choices([path], demos=False)
        selection = cue_from_preset("preferred-song", preferred_songs=[path])
    if choice.song is None:
        assert choice.problem is not None and str(path) in choice.problem
        assert isinstance(selection.cue, GrooveCue) and str(path) in selection.messages[0]
    else:
        assert isinstance(selection.cue, SongCue)


@FUZZ
@given(name=st.sampled_from(sorted(DEMOS)), data=st.data())
def test_truncated_real_songs_never_stop_the_session(name: str, data: st.DataObject) -> None:
    whole = DEMOS[name].read_bytes()
    cut = data.draw(st.integers(0, len(whole) - 1))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.mid"
        path.write_bytes(whole[:cut])
        (choice,) = song_choices([path], demos=False)
    assert (choice.song is None) == (choice.problem is not None)
    if choice.song is not None:  # a cut at the very end of the last track can still be a whole song
        SongCue(choice.song).cursor(choice.song.meter).take_until(10**6)
