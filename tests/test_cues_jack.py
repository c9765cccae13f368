"""Songs and grooves played by the engine on a real JACK server, checked from a second client's recording.

Expected times come from the take's own tempo map (`Take.tempo`, changes included) and the song's beats,
worked out here independently of the player: every recorded note-on must sit where the scaled map says,
within the MIDI tolerance of the engine's own tests (a JACK period plus slack). The speaker path is
compared sample for sample with the same notes rendered offline by the synth. The metronome and its cue
player run in the engine's own process (`RemoteMetronome`, `RemoteCuePlayer`), as the app plays them. Each
test's assertions are its take's check (`engine_takes.play`): a take whose witness lost cycles is judged
only if they hold, else played again.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path

import mido
import numpy as np
import pytest
from support.engine_takes import JACK_MIDI, MIDI_EARLY_S, MIDI_LATE_S, Engine, Take, held_notes, play
from support.recorder import RecorderProcess

from audio.cue_player import CuePlayer
from audio.cue_state import CueState
from audio.cues import CLICK, Cue, GrooveCue, SongCue, cue_from_preset
from audio.engine import Metronome
from audio.engine_client import RemoteCuePlayer, RemoteMetronome
from audio.engine_config import AudioConfig, MidiConfig
from audio.engine_protocol import EngineFailure
from audio.grooves import GROOVES, OPEN_HI_HAT
from audio.render import sample_at
from audio.song import Loop
from audio.song_file import load_song
from audio.synth import Synth
from audio.tempo import LinearRamp, TempoSettings

pytestmark = pytest.mark.jack

TICKS = 480
CLICK_NOTES = {76, 77, 42}


def write_song(
    path: Path,
    notes: Iterable[tuple[Fraction | int, Fraction | int, int]],
    *,
    tempos: dict[int, float] | None = None,
    meter: tuple[int, int] = (4, 4),
    channel: int = 0,
) -> Path:
    """A type 1 MIDI file of (on beat, off beat, note) on `channel`; file tempi by beat (default 120)."""
    timed: list[tuple[int, int, mido.Message | mido.MetaMessage]] = [
        (0, 0, mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1]))
    ]
    for beat, bpm in (tempos or {0: 120}).items():
        timed.append((beat * TICKS, 0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))))
    for on, off, note in notes:
        timed.append((int(on * TICKS), 2, mido.Message("note_on", channel=channel, note=note, velocity=100)))
        timed.append((int(off * TICKS), 1, mido.Message("note_off", channel=channel, note=note)))
    timed.sort(key=lambda item: item[:2])
    track, now = mido.MidiTrack([mido.MetaMessage("track_name", name=path.stem)]), 0
    for tick, _, message in timed:
        track.append(message.copy(time=tick - now))
        now = tick
    mido.MidiFile(type=1, ticks_per_beat=TICKS, tracks=[track]).save(path)
    return path


def played(
    settings: TempoSettings,
    cue: Cue,
    seconds: float,
    *,
    audio: bool = False,
    midi: bool = True,
    click: bool = True,
    during: Callable[[Engine, RemoteCuePlayer], None] | None = None,
    lookahead_s: float = 0.12,
    check: Callable[[Take, CueState | None], None] | None = None,
) -> tuple[Take, CueState | None]:
    """Play `cue` on a metronome and record it (see `engine_takes.play`), returning the take and the
    player's state once stopped (None when the test closed the player). `check` holds the test's
    assertions on a take and that state: a take the witness did not see cleanly is judged by it too."""
    players: list[RemoteCuePlayer] = []
    states: list[CueState | None] = []

    def make() -> Engine:
        metronome = RemoteMetronome(
            settings,
            audio=AudioConfig() if audio else None,
            midi=MidiConfig(virtual="cue", backend=JACK_MIDI) if midi else None,
            lookahead_s=lookahead_s,
        )
        metronome.open()
        players.append(RemoteCuePlayer(metronome, cue))
        players[-1].set_click(click)
        return metronome

    def act(metronome: Engine) -> None:
        if during is not None:
            during(metronome, players[-1])

    def state(_metronome: Engine) -> None:
        try:
            states.append(players[-1].state())
        except EngineFailure:  # closed by the test: nothing to ask
            states.append(None)

    take = play(
        make,
        seconds,
        audio=audio,
        midi="cue" if midi else None,
        during=act,
        stopped=state,
        check=None if check is None else lambda take: check(take, states[-1]),
    )
    return take, states[-1]


def note_ons(take: Take, channel: int | None = None) -> list[tuple[float, int, int]]:
    """(engine-clock time, note, velocity) of every recorded note-on, on one channel (0-based) or all."""
    return [
        (take.rec.to_perf(frame), data[1], data[2])
        for frame, data in take.rec.midi
        if len(data) == 3 and data[0] & 0xF0 == 0x90 and data[2] > 0 and channel in (None, data[0] & 0x0F)
    ]


def assert_on_the_map(
    take: Take, heard: list[tuple[float, int, int]], due: list[tuple[Fraction, int]]
) -> None:
    """Each heard note-on is the due note (engine beat, pitch) at the map's time, within MIDI tolerance."""
    assert [note for _, note, _ in heard] == [note for _, note in due[: len(heard)]]
    errors = [
        at - (take.origin + float(take.tempo.time_at(beat)))
        for (at, _, _), (beat, _) in zip(heard, due[: len(heard)], strict=True)
    ]
    assert min(errors) > -MIDI_EARLY_S, errors
    assert max(errors) < MIDI_LATE_S, errors


def test_a_120_bpm_file_at_90_bpm_lands_where_the_scaled_map_says(jack_server, tmp_path):
    """Bar 1 at the file's main tempo (120), bar 2 at 180 (1.5x), bar 3 at 120 again."""
    notes = [(b, b + Fraction(9, 10), 60 + b) for b in range(4)]
    notes += [(4 + Fraction(k, 2), 4 + Fraction(k, 2) + Fraction(2, 5), 67 + k % 2) for k in range(8)]
    notes += [(8 + b, 8 + b + Fraction(9, 10), 72 + b) for b in range(4)]
    song = load_song(write_song(tmp_path / "scaled.mid", notes, tempos={0: 120, 4: 180, 8: 120}))
    assert song.original_bpm == 120

    def engine_beat(song_beat: Fraction) -> Fraction:
        """Scaled by hand: the 180 bpm bar lasts 4 / 1.5 metronome beats."""
        if song_beat <= 4:
            return song_beat
        return 4 + (min(song_beat, 8) - 4) / Fraction(3, 2) + max(Fraction(0), song_beat - 8)

    def check_take(take: Take, _stopped: CueState | None) -> None:
        heard = note_ons(take, channel=0)
        assert heard, "the song played nothing"
        # Every note where the scaled map says, the first on beat 0 (a song a bar late is 4 beats off).
        assert_on_the_map(take, heard, [(engine_beat(Fraction(on)), note) for on, _, note in notes])
        assert len(heard) >= 12  # bars 1 and 2 and the start of bar 3 in 5 s
        # Scaled, not the file's speed: the first four notes span 3 beats at 90 bpm (2 s), not 1.5 s.
        assert heard[3][0] - heard[0][0] == pytest.approx(2.0, abs=MIDI_LATE_S + MIDI_EARLY_S)
        assert not any(note in CLICK_NOTES for _, note, _ in note_ons(take, channel=9))

    played(TempoSettings(bpm=90), SongCue(song), 5.0, click=False, check=check_take)


def test_a_song_starts_on_beat_0_when_the_look_ahead_is_longer_than_the_lead(jack_server, tmp_path):
    """A large audio buffer makes the look-ahead exceed the lead: the scheduler's first poll already
    reaches past beat 0. The song must still begin with the click, not a bar later."""
    notes = [(b, b + Fraction(1, 2), 60 + b) for b in range(8)]
    song = load_song(write_song(tmp_path / "steps.mid", notes))

    def check_take(take: Take, _stopped: CueState | None) -> None:
        heard = note_ons(take, channel=0)
        assert heard, "the song played nothing"
        assert heard[0][1] == 60
        assert_on_the_map(take, heard, [(Fraction(on), note) for on, _, note in notes])

    played(TempoSettings(bpm=120), SongCue(song), 2.5, lookahead_s=0.5, check=check_take)


def test_a_song_attached_to_a_running_metronome_joins_at_the_next_bar_line(jack_server, tmp_path):
    notes = [(b, b + Fraction(1, 2), 60 + b) for b in range(8)]
    song = load_song(write_song(tmp_path / "steps.mid", notes))
    joined: list[Fraction] = []

    def attach_mid_bar(metronome: Engine, player: RemoteCuePlayer) -> None:
        player.close()
        while (metronome.beat_at(time.perf_counter()) or 0) < Fraction(3, 2):
            time.sleep(0.01)
        now = metronome.beat_at(time.perf_counter())
        assert now is not None and now < 3  # far enough from the bar line for the look-ahead
        joined.append(Fraction(4))
        RemoteCuePlayer(metronome, SongCue(song))

    def check_take(take: Take, _stopped: CueState | None) -> None:
        heard = note_ons(take, channel=0)
        assert heard, "the song played nothing"
        assert heard[0][1] == 60
        assert_on_the_map(take, heard, [(joined[-1] + Fraction(on), note) for on, _, note in notes])

    played(TempoSettings(bpm=120), CLICK, 4.5, during=attach_mid_bar, check=check_take)


def test_ramps_and_live_tempo_changes_move_the_song_with_the_click(jack_server, tmp_path):
    notes = [(Fraction(k, 2), Fraction(k, 2) + Fraction(1, 4), 60 + k % 12) for k in range(64)]
    song = load_song(write_song(tmp_path / "eighths.mid", notes))
    settings = TempoSettings(bpm=90, ramp=LinearRamp(to_bpm=130, beats=8), count_in_bars=1)

    def speed_up_later(metronome: Engine, _player: RemoteCuePlayer) -> None:
        time.sleep(0.15 + 4 * 60 / 90 + 2.0)  # lead and count-in, then two seconds into the ramp
        metronome.set_tempo(150)

    def check_take(take: Take, _stopped: CueState | None) -> None:
        heard = note_ons(take, channel=0)
        assert len(heard) >= 16
        assert_on_the_map(take, heard, [(Fraction(on), note) for on, _, note in notes])
        last_beat = int(take.tempo.beat_at(heard[-1][0] - take.origin))
        assert 90 < take.tempo.bpm_at(2) < 130 and take.tempo.bpm_at(last_beat) == 150  # ramp, then change

    played(settings, SongCue(song), 2.5, during=speed_up_later, check=check_take)


def test_loop_bars_repeat_on_time(jack_server, tmp_path):
    """Bars with their own pitches (bar n plays 60 + 10 n ...): bars 2-3 loop after bar 1."""
    notes = [
        (4 * bar + b, 4 * bar + b + Fraction(1, 2), 60 + 10 * bar + b) for bar in range(4) for b in range(4)
    ]
    song = load_song(write_song(tmp_path / "bars.mid", notes))

    def check_take(take: Take, _stopped: CueState | None) -> None:
        first_bar = [(Fraction(on), note) for on, _, note in notes[:4]]
        loop = [(Fraction(on), note) for on, _, note in notes[4:12]]
        due = first_bar + [(on + 8 * k, note) for k in range(3) for on, note in loop]
        heard = note_ons(take, channel=0)
        assert len(heard) >= 4 + 8 + 4
        assert_on_the_map(take, heard, due)
        assert not any(note >= 90 for _, note, _ in heard)  # bar 4 never plays

    played(TempoSettings(bpm=240), SongCue(song, loop=Loop(2, 3)), 4.3, click=False, check=check_take)


def test_seek_tempo_change_loop_and_stop_leave_no_note_hanging(jack_server, tmp_path):
    """Whole-bar notes overlapping (a held chord), so every interruption cuts sounding notes."""
    notes = [(4 * bar + b, 4 * bar + b + 4, 48 + 7 * b + bar) for bar in range(6) for b in range(4)]
    song = load_song(write_song(tmp_path / "held.mid", notes))
    marks: dict[str, float] = {}

    def interrupt(metronome: Engine, player: RemoteCuePlayer) -> None:
        time.sleep(1.3)
        player.seek(5)
        time.sleep(1.0)
        metronome.set_tempo(150)
        marks["loop"] = time.perf_counter()
        player.set_loop(Loop(2, 2))  # playback is past bar 2: it jumps there at the next bar line
        time.sleep(3.5)
        marks["stop"] = time.perf_counter()  # the take stops as this returns

    def check_take(take: Take, stopped: CueState | None) -> None:
        midi = take.rec.midi
        before_stop = [(f, d) for f, d in midi if take.rec.to_perf(f) < marks["stop"]]
        assert held_notes(before_stop), "notes were sounding when stopped"
        notes_only = [(f, d) for f, d in midi if d[0] & 0x0F == 0 and d[0] & 0xF0 != 0xB0]
        assert held_notes(notes_only) == Counter()  # ended by explicit note-offs, not only by CC 123
        assert bytes([0xB0, 123, 0]) in [d for _, d in midi[-12:]]
        heard = note_ons(take, channel=0)
        assert 52 in [note for _, note, _ in heard]  # bar 5's first chord: the seek got there
        assert sum(note == 49 and at > marks["loop"] for at, note, _ in heard) >= 2  # bar 2, looping
        assert stopped is not None and stopped.cue.loop == Loop(2, 2)

    played(TempoSettings(bpm=180), SongCue(song), 0.0, during=interrupt, check=check_take)


def test_a_groove_replaces_the_click_and_changes_intensity_at_a_bar_line(jack_server):
    rock = GROOVES["rock"]
    asked: list[float] = []

    def fuller(_metronome: Engine, player: RemoteCuePlayer) -> None:
        time.sleep(1.3)
        asked.append(time.perf_counter())
        player.set_intensity(3)
        assert player.state().playing and player.state().cue == GrooveCue(rock, 3)

    def check_take(take: Take, stopped: CueState | None) -> None:
        heard = sorted(note_ons(take, channel=9))
        assert not any(note in (76, 77) for _, note, _ in heard)  # no click: the groove is the cue
        # Level 3 starts at the groove's first bar line not yet handed out (a look-ahead after the request).
        assert stopped is not None and not stopped.playing
        first_full = min(at for at, note, _ in heard if note == OPEN_HI_HAT)
        change_bar = int(take.tempo.beat_at(first_full - take.origin)) // 4
        assert take.origin + 2 * change_bar > asked[-1] > take.origin + 2 * (change_bar - 1) - 0.15
        due = [(4 * bar + hit.beat, hit.note) for bar in range(change_bar) for hit in rock.hits(2)]
        due += [(4 * bar + hit.beat, hit.note) for bar in range(change_bar, 10) for hit in rock.hits(3)]
        assert len(heard) > 20
        assert_on_the_map(take, heard, sorted(due))

    played(TempoSettings(bpm=120), GrooveCue(rock, 2), 3.5, click=False, during=fuller, check=check_take)


def test_click_and_music_fade_out_over_two_bars_and_back_on_midi(jack_server, tmp_path):
    notes = [(Fraction(k, 2), Fraction(k, 2) + Fraction(1, 4), 60 + k % 5) for k in range(96)]
    song = load_song(write_song(tmp_path / "even.mid", notes))
    marks: list[float] = []

    def fade_both(_metronome: Engine, player: RemoteCuePlayer) -> None:
        time.sleep(1.1)
        marks.append(time.perf_counter())
        assert player.fade_click() == 0.0 and player.fade_music() == 0.0
        time.sleep(3.0)
        marks.append(time.perf_counter())
        player.fade_click(out=False)
        player.fade_music(out=False)

    def check_take(take: Take, stopped: CueState | None) -> None:
        faded, back = marks[-2:]
        full = {76: 120, 77: 96} | {note: 100 for note in range(60, 65)}
        for channel in (9, 0):
            heard = [(at, velocity / full[note]) for at, note, velocity in note_ons(take, channel=channel)]
            assert {gain for at, gain in heard if at < faded} == {1.0}
            # Two bars (2 s at 240 bpm) of falling velocity from the next beat, silent until brought back.
            falling = [gain for at, gain in heard if faded < at < faded + 2.5]
            assert len(falling) >= 6 and min(falling) < 0.3
            assert all(b <= a + 0.01 for a, b in itertools.pairwise(falling)), falling
            assert not [at for at, _ in heard if faded + 2.5 < at < back], "silent once faded"
            rising = [gain for at, gain in heard if back < at < back + 2.5]
            assert len(rising) >= 6 and all(b >= a - 0.01 for a, b in itertools.pairwise(rising))
            assert [gain for at, gain in heard if at > back + 2.5] and rising[-1] > 0.8
        assert stopped is not None and stopped.music_gain == 1.0 and stopped.click_gain == 1.0

    played(TempoSettings(bpm=240), SongCue(song), 3.0, during=fade_both, check=check_take)


def fade_fit(samples: np.ndarray, gain: np.ndarray, falling: bool) -> tuple[float, float]:
    """Start sample and length of a linear fade, fitted on the samples between 5% and 95% gain."""
    inside = (gain > 0.05) & (gain < 0.95)
    slope, intercept = np.polyfit(samples[inside], gain[inside], 1)
    length = -1 / slope if falling else 1 / slope
    start = (1 - intercept) / slope if falling else -intercept / slope
    return float(start), float(length)


def test_the_synth_plays_every_note_on_its_exact_sample_and_fades_over_two_bars(jack_server, tmp_path):
    notes = [(b, b + 1, 60 + 2 * (b % 4)) for b in range(40)]
    song = load_song(write_song(tmp_path / "legato.mid", notes))
    marks: list[float] = []

    inverse: list[Fraction | None] = []

    def fade_out_and_in(metronome: Engine, player: RemoteCuePlayer) -> None:
        time.sleep(1.0)
        for beat in (Fraction(2), Fraction(7, 2), Fraction(13)):
            at = metronome.time_of(beat)
            inverse.append(None if at is None else metronome.beat_at(at) - beat)
        marks.append(time.perf_counter())
        player.fade_music(out=True)
        time.sleep(3.0)
        marks.append(time.perf_counter())
        player.fade_music(out=False)

    def check_take(take: Take, stopped: CueState | None) -> None:
        assert stopped is not None and stopped.outputs == ("audio",)
        tempo = take.tempo
        sample = lambda beat: sample_at(tempo.time_at(beat), 48_000)  # noqa: E731
        # The same notes rendered offline on the exact samples the tempo map gives.
        expected = np.zeros(sample(40), dtype=np.float32)
        synth = Synth(48_000)
        for on, off, note in notes:
            synth.send(sample(on), mido.Message("note_on", note=note, velocity=100))
            synth.send(sample(off), mido.Message("note_off", note=note))
        synth.render(expected, 0)
        rec = take.rec
        first = int(np.flatnonzero(rec.audio)[0])
        heard = rec.audio[first : first + len(expected)]
        to_frame = lambda at: int((at - rec.to_perf(rec.first_frame)) * 48_000) - first  # noqa: E731
        fade_from, back_at = to_frame(marks[-2]), to_frame(marks[-1])
        # Up to the fade every sample is the offline one: each note started on its exact sample.
        np.testing.assert_array_equal(heard[:fade_from], expected[:fade_from])
        loud = np.abs(expected) > 0.01
        gain = np.where(loud, heard / np.where(loud, expected, 1), np.nan)
        beats_8 = sample(8) - sample(0)  # two bars of 4/4
        fades = ((True, fade_from, back_at), (False, back_at, back_at + int(2.6 * 48_000)))  # before the stop
        for falling, lo, hi in fades:
            samples = np.arange(lo, hi)
            defined = ~np.isnan(gain[lo:hi])
            start, length = fade_fit(samples[defined], gain[lo:hi][defined], falling)
            assert abs(length - beats_8) < 0.01 * beats_8, (length, beats_8)
            assert min(abs(start - sample(b)) for b in range(40)) < 0.005 * beats_8  # from a beat
        silent = slice(to_frame(marks[-2]) + int(2.6 * 48_000), back_at)
        assert np.max(np.abs(heard[silent])) == 0.0
        # beat_at inverts time_of on the audio clock, to within a sample (4/48,000 of a beat at 240 bpm).
        assert all(error is not None and abs(error) <= Fraction(4, 48_000) for error in inverse[-3:]), inverse

    played(
        TempoSettings(bpm=240),
        SongCue(song),
        3.0,
        audio=True,
        midi=False,
        click=False,
        during=fade_out_and_in,
        check=check_take,
    )


def test_closing_the_player_ends_its_notes_and_the_click_plays_on(jack_server, tmp_path):
    notes = [(2 * k, 2 * k + 4, 60 + k % 12) for k in range(20)]  # always two notes sounding
    song = load_song(write_song(tmp_path / "pad.mid", notes))
    closed: list[float] = []

    def close_soon(_metronome: Engine, player: RemoteCuePlayer) -> None:
        time.sleep(1.2)
        player.close()
        closed.append(time.perf_counter())

    def check_take(take: Take, _stopped: CueState | None) -> None:
        song_midi = [(f, d) for f, d in take.rec.midi if d[0] & 0x0F == 0]
        assert held_notes(song_midi) == Counter()
        # The last note-offs leave at the look-ahead horizon, after everything handed out before the close.
        assert max(take.rec.to_perf(f) for f, _ in song_midi) < closed[-1] + 0.12 + MIDI_LATE_S
        assert len([at for at, _, _ in note_ons(take, channel=9) if at > closed[-1]]) >= 3

    played(TempoSettings(bpm=180), SongCue(song), 1.5, during=close_soon, check=check_take)


def test_a_broken_preferred_song_falls_back_and_the_music_carries_on(jack_server, tmp_path):
    broken = tmp_path / "favourite.mid"
    broken.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x40\x00\x90")
    chosen: list[tuple[str, ...]] = []

    def pick_the_preferred_song(_metronome: Engine, player: RemoteCuePlayer) -> None:
        time.sleep(1.0)
        selection = cue_from_preset("preferred-song", meter="4/4", preferred_songs=[str(broken)])
        chosen.append(selection.messages)
        player.play(selection.cue)

    def check_take(take: Take, stopped: CueState | None) -> None:
        (messages,) = chosen[-1:]
        assert str(broken) in messages[0] and "truncated" in messages[0]
        assert "rock groove" in messages[-1]
        assert stopped is not None and isinstance(stopped.cue, GrooveCue)
        clicks = [at for at, note, _ in note_ons(take, channel=9) if note in (76, 77)]
        drums = [at for at, note, _ in note_ons(take, channel=9) if note not in CLICK_NOTES]
        assert drums and min(drums) > take.origin + 1.0  # the groove joined at a bar line after the pick
        assert max(clicks) > min(drums) + 1.0  # and the click never stopped

    played(TempoSettings(bpm=120), CLICK, 3.5, during=pick_the_preferred_song, check=check_take)


def test_a_midi_device_lost_mid_note_gets_its_note_offs_when_it_is_back(jack_server, tmp_path):
    """The device is a recorder in another process, as in the engine's unplug test."""
    notes = [(4 * bar, 4 * bar + 4, 60 + bar) for bar in range(40)]
    song = load_song(write_song(tmp_path / "long.mid", notes))
    device = RecorderProcess("synth-module", 20)
    metronome = Metronome(
        TempoSettings(bpm=120), midi=MidiConfig(port="synth-module:midi_in", backend=JACK_MIDI)
    )
    second = None
    try:
        assert metronome.open() == []
        player = CuePlayer(metronome, SongCue(song))
        metronome.start()
        time.sleep(1.0)
        before = device.stop()
        deadline = time.perf_counter() + 5
        while metronome.status().outputs["midi"].available and time.perf_counter() < deadline:
            time.sleep(0.05)
        assert not metronome.status().outputs["midi"].available
        second = RecorderProcess("synth-module", 20)
        assert metronome.reconnect() == []
        time.sleep(1.0)
        player.close()
    finally:
        metronome.close()
        after = second.stop() if second is not None else None
    assert after is not None
    hanging = held_notes([(f, d) for f, d in before.midi if d[0] & 0x0F == 0])
    assert hanging, "a note was sounding when the device went away"
    offs = {(d[0] & 0x0F, d[1]) for _, d in after.midi if d[0] & 0xF0 == 0x80}
    assert set(hanging) <= offs
    assert held_notes([(f, d) for f, d in after.midi if d[0] & 0x0F == 0]) == Counter()


def test_stopping_just_after_a_switch_still_ends_the_old_cue_s_notes(jack_server, tmp_path):
    """The switch's note-offs wait in the scheduler's look-ahead; a stop then must hand them back."""
    notes = [(2 * k, 2 * k + 4, 60 + k % 12) for k in range(20)]
    song = load_song(write_song(tmp_path / "pad.mid", notes))
    stopped: list[float] = []

    def switch_then_stop(metronome: Engine, player: RemoteCuePlayer) -> None:
        time.sleep(1.0)
        while (metronome.beat_at(time.perf_counter()) or 0) % 4 < 1.5:  # mid-bar: the next bar line is clear
            time.sleep(0.01)
        bar_line = Fraction(4 * (int(metronome.beat_at(time.perf_counter()) or 0) // 4 + 1))
        player.play(CLICK)
        due = metronome.time_of(bar_line)
        assert due is not None
        time.sleep(due - 0.05 - time.perf_counter())  # the switch is handed out, not yet sent
        stopped.append(time.perf_counter())

    def check_take(take: Take, _stopped: CueState | None) -> None:
        song_notes = [(f, d) for f, d in take.rec.midi if d[0] & 0x0F == 0 and d[0] & 0xF0 != 0xB0]
        assert held_notes(song_notes) == Counter()
        assert [d for f, d in song_notes if take.rec.to_perf(f) > stopped[-1] and d[0] & 0xF0 == 0x80]

    played(TempoSettings(bpm=180), SongCue(song), 0.0, during=switch_then_stop, check=check_take)
