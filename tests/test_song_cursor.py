"""The playback cursor: beats for the scheduler, tempo scaling, loops, seeks; no note left hanging."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import mido
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audio.event_track import BeatRange, TimedMessage
from audio.playback_cursor import PlaybackCursor
from audio.song import Loop, Song
from audio.song_file import load_song, parse_song

SONGS = Path(__file__).resolve().parent.parent / "audio" / "songs"
TWINKLE = load_song(SONGS / "twinkle-twinkle-little-star.mid")
GRACE = load_song(SONGS / "amazing-grace.mid")
ROW = load_song(SONGS / "row-row-row-your-boat.mid")
EVERYTHING = Fraction(10**6)


def song_from(*track: mido.Message | mido.MetaMessage, bpm: float = 120) -> Song:
    """A one-track type 0 song at `bpm`, 4/4, 480 ticks per beat."""
    tempo = mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))
    out = io.BytesIO()
    mido.MidiFile(type=0, tracks=[mido.MidiTrack([tempo, *track])]).save(file=out)
    return parse_song(out.getvalue(), Path("made.mid"))


def on(note: int, delta: int = 0, channel: int = 0) -> mido.Message:
    return mido.Message("note_on", note=note, velocity=90, channel=channel, time=delta)


def off(note: int, delta: int, channel: int = 0) -> mido.Message:
    return mido.Message("note_off", note=note, channel=channel, time=delta)


def note_ons(items: Iterable[TimedMessage]) -> list[tuple[Fraction, int]]:
    return [(i.beat, i.message.note) for i in items if i.message.type == "note_on"]


class Device:
    """What a keyboard holds after the messages it received (a note-off for a silent note does nothing)."""

    def __init__(self) -> None:
        self.held: Counter[tuple[int, int]] = Counter()

    def receive(self, items: Iterable[TimedMessage]) -> None:
        for item in items:
            message = item.message
            if message.type == "note_on":
                self.held[(message.channel, message.note)] += 1
            elif message.type == "note_off" and self.held[(message.channel, message.note)]:
                self.held[(message.channel, message.note)] -= 1

    @property
    def sounding(self) -> Counter[tuple[int, int]]:
        return +self.held


def test_playback_beats_are_song_beats_at_one_beat_per_quarter() -> None:
    taken = TWINKLE.cursor().take_until(EVERYTHING)
    assert note_ons(taken) == [
        (e.beat, e.message.note) for e in TWINKLE.events if e.message.type == "note_on"
    ]


def test_a_120_bpm_file_at_90_bpm_lands_where_the_scaled_map_says() -> None:
    song = song_from(on(60), off(60, 240), on(62, 240), off(62, 720), on(64, 0), off(64, 480), bpm=120)
    original_seconds = [float(e.beat) * 60 / 120 for e in song.events if e.message.type == "note_on"]
    played = [float(beat) * 60 / 90 for beat, _ in note_ons(song.cursor().take_until(EVERYTHING))]
    assert played == pytest.approx([t * 120 / 90 for t in original_seconds])
    assert played == pytest.approx([0.0, 1 / 1.5 * 1, 1 / 1.5 * 2.5])


def test_beat_unit_counts_dotted_quarters_in_six_eight() -> None:
    taken = ROW.cursor(beat_unit=Fraction(3, 2)).take_until(EVERYTHING)
    melody = [beat for beat, _ in note_ons(i for i in taken if i.message.channel == 0)]
    assert melody[:5] == [0, 1, 2, Fraction(8, 3), 3]  # "Row, row, row your boat": two pulses a bar
    assert ROW.cursor(start_bar=2, beat_unit=Fraction(3, 2)).take_until(1)[0].beat == 0


def test_by_default_a_cursor_counts_the_written_beat_as_the_engine_does() -> None:
    taken = ROW.cursor().take_until(EVERYTHING)  # 6/8: the engine's beat is the eighth note
    melody = [beat for beat, _ in note_ons(i for i in taken if i.message.channel == 0)]
    assert melody[:5] == [0, 3, 6, 8, 9]
    assert ROW.original_meter_bpm == 192 and ROW.original_bpm == 96
    assert "192 bpm (64 dotted beats a minute)" in ROW.summary


def test_tempo_changes_in_the_file_follow_the_target_relatively() -> None:
    taken = GRACE.cursor().take_until(EVERYTHING)
    melody = {beat: note for beat, note in note_ons(i for i in taken if i.message.channel == 0)}
    # Bars 1-14 at the main tempo (80): playback beat == song beat.
    assert melody[Fraction(39)] == 67
    # Bar 16 ("see", song beat 45) starts after bar 15 played at 72/80 speed: 3 song beats take 3 * 80/72.
    bar_16 = 42 + GRACE.track.factors.main_beats_at(45) - GRACE.track.factors.main_beats_at(42)
    assert bar_16 == pytest.approx(42 + 3 * 80 / 72, rel=1e-5)
    assert melody[bar_16] == 67
    ends = [i.beat for i in taken if i.message.type == "note_off"]
    # Bars 16-17 at 60/80 speed: their 6 song beats take 8 metronome beats.
    assert max(ends) <= bar_16 + 8


def test_loop_repeats_bars_on_an_ever_increasing_timeline() -> None:
    cursor = TWINKLE.cursor(start_bar=2, loop=Loop(2, 3))
    taken = cursor.take_until(24)
    melody = note_ons(i for i in taken if i.message.channel == 0)
    first_pass = [(beat, note) for beat, note in melody if beat < 8]
    assert [note for _, note in first_pass] == [69, 69, 67, 65, 65, 64, 64]  # "A A G | F F E E"
    assert melody == first_pass + [(b + 8, n) for b, n in first_pass] + [(b + 16, n) for b, n in first_pass]
    beats = [i.beat for i in taken]
    assert beats == sorted(beats)


def test_loop_wrap_ends_every_note_it_cut() -> None:
    song = song_from(on(60), on(67, 480 * 3), off(67, 480 * 2), off(60, 480))  # the G crosses beat 4
    cursor = PlaybackCursor(song.track, loop=BeatRange(Fraction(0), Fraction(4)))
    device = Device()
    first = cursor.take_until(4)
    device.receive(first)
    assert device.sounding == Counter({(0, 60): 1, (0, 67): 1})
    wrap = cursor.take_until(Fraction(4) + Fraction(1, 1000))
    assert [(i.beat, i.message.type, i.message.note) for i in wrap] == [
        (4, "note_off", 60),
        (4, "note_off", 67),
        (4, "note_on", 60),
    ]
    device.receive(wrap)
    assert device.sounding == Counter({(0, 60): 1})
    assert cursor.sounding == {(0, 60): 1}


def test_a_note_started_before_the_loop_ends_once_only() -> None:
    song = song_from(on(48), on(60, 480 * 2), off(48, 480), off(60, 480))  # bass from 0 to 3, loop 2-4
    cursor = PlaybackCursor(song.track, loop=BeatRange(Fraction(2), Fraction(4)))
    taken = cursor.take_until(8)
    bass = [(i.beat, i.message.type) for i in taken if i.message.note == 48]
    assert bass == [(0, "note_on"), (3, "note_off")]  # the later passes' note-off at beat 3 has no note


def test_seek_ends_sounding_notes_and_resends_the_settings() -> None:
    cursor = GRACE.cursor()
    cursor.take_until(Fraction(7, 2))  # in "ma-zing": melody and accompaniment notes are sounding
    sounding = cursor.sounding
    assert sounding
    offs = cursor.seek(GRACE.bar_start(10), at=Fraction(7, 2))
    assert sorted((i.message.channel, i.message.note) for i in offs) == sorted(sounding)
    assert all(i.message.type == "note_off" and i.beat == Fraction(7, 2) for i in offs)
    assert cursor.sounding == {}
    after = cursor.take_until(Fraction(7, 2) + 1)
    programs = [
        (i.beat, i.message.channel, i.message.program) for i in after if i.message.type == "program_change"
    ]
    assert programs == [(Fraction(7, 2), 0, 19), (Fraction(7, 2), 1, 19)]
    first_note = next(i for i in after if i.message.type == "note_on" and i.message.channel == 0)
    assert (first_note.beat, first_note.message.note) == (Fraction(7, 2), 74)  # bar 10: "once" on D5


def test_stop_releases_everything_sounding_and_everything_left_unsent() -> None:
    cursor = TWINKLE.cursor()
    lookahead = cursor.take_until(Fraction(5, 2))
    sent = [i for i in lookahead if i.beat < 2]
    unsent = [i for i in lookahead if i.beat >= 2]
    assert any(i.message.type == "note_off" for i in unsent)
    device = Device()
    device.receive(sent)
    assert device.sounding
    device.receive(cursor.release(at=2, unsent=unsent))
    assert device.sounding == Counter()
    assert cursor.sounding == {}


def test_set_loop_while_playing_and_stopping_the_loop() -> None:
    cursor = TWINKLE.cursor()
    cursor.take_until(6)
    cursor.set_loop(TWINKLE.loop_beats(Loop(2, 2)))  # bar 2 is beats 4-8, playback is already inside it
    looped = note_ons(i for i in cursor.take_until(14) if i.message.channel == 0)
    assert looped == [(6, 67), (8, 69), (9, 69), (10, 67), (12, 69), (13, 69)]
    cursor.set_loop(None)
    rest = cursor.take_until(EVERYTHING)
    assert cursor.finished
    assert note_ons(i for i in rest if i.message.channel == 0)[0] == (14, 67)


def test_a_loop_behind_the_playback_position_lets_the_song_finish() -> None:
    cursor = TWINKLE.cursor()
    cursor.take_until(20)
    cursor.set_loop(TWINKLE.loop_beats(Loop(1, 2)))
    cursor.take_until(EVERYTHING)
    assert cursor.finished and cursor.next_beat() is None


def test_next_beat_never_comes_after_the_next_message() -> None:
    cursor = GRACE.cursor(loop=Loop(15, 17))
    for _ in range(300):
        expected = cursor.next_beat()
        assert expected is not None
        taken = cursor.take_until(expected + Fraction(1, 10**6))
        assert all(i.beat == expected for i in taken)


def test_bad_cursor_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="beat unit"):
        PlaybackCursor(TWINKLE.track, beat_unit=0)
    with pytest.raises(ValueError, match="non-empty span"):
        PlaybackCursor(TWINKLE.track, loop=BeatRange(Fraction(4), Fraction(4)))
    with pytest.raises(ValueError, match="inside the song"):
        PlaybackCursor(TWINKLE.track, loop=BeatRange(Fraction(40), Fraction(60)))
    with pytest.raises(ValueError, match="start at beat 0"):
        TWINKLE.cursor().seek(-1, at=0)


operations = st.lists(
    st.one_of(
        st.tuples(st.just("advance"), st.fractions(Fraction(1, 8), 6)),
        st.tuples(st.just("seek"), st.fractions(0, 52)),
        st.tuples(st.just("loop"), st.tuples(st.integers(1, 17), st.integers(0, 4))),
        st.tuples(st.just("unloop"), st.none()),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None, database=None)
@given(st.sampled_from([TWINKLE, GRACE, ROW]), operations, st.fractions(0, 2))
def test_no_note_hangs_whatever_the_therapist_does(song: Song, steps: list, lookahead: Fraction) -> None:
    """A scheduler with a look-ahead queue, driven by random seeks, loops and stops, against a device."""
    cursor, device, now, queue = song.cursor(), Device(), Fraction(0), []
    for kind, value in steps:
        if kind == "advance":
            now += value
            queue += cursor.take_until(now + lookahead)
            device.receive(i for i in queue if i.beat <= now)
            queue = [i for i in queue if i.beat > now]
        elif kind == "seek":
            device.receive(cursor.seek(min(value, song.length_beats), at=now, unsent=queue))
            queue = []
        elif kind == "loop":
            first, extra = value
            first = min(first, song.bars)
            cursor.set_loop(song.loop_beats(Loop(first, min(song.bars, first + extra))))
        else:
            cursor.set_loop(None)
    device.receive(cursor.release(at=now, unsent=queue))
    assert device.sounding == Counter()


def test_looping_every_bar_of_a_song_whose_last_bar_is_partial_keeps_whole_bars() -> None:
    """Found by the audit: `--loop all` on a song ending mid-bar failed in the engine (the loop ran past the
    track's end) and played nothing. The loop keeps whole bars: the rest of the last bar is silence."""
    song = song_from(*(m for k in range(6) for m in (on(60 + k), off(60 + k, 480))))  # 6 beats of 4/4
    assert song.length_beats < 8 and song.bars == 2  # bar 2 stops short
    cursor = song.cursor(loop=Loop(1, song.bars))
    melody = note_ons(cursor.take_until(24))
    first_pass = [(beat, note) for beat, note in melody if beat < 8]
    assert melody[: 3 * len(first_pass)] == [(b + 8 * k, n) for k in range(3) for b, n in first_pass]
