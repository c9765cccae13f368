"""A loop and fades set with the session screen's keys change what the app's MIDI port plays, on JACK.

The witness is a JACK recorder in its own process (`support.recorder`); a run whose witness is not clean is
judged only if everything it heard holds (`engine_takes.judge_or_retake`), else played again, and the
test fails if no run is judged. The song is the client's preferred Twinkle at 240 bpm (a bar
a second). Expected note times come from the song file and the loop's bars, worked out here independently
of the player; the recording's frames are mapped onto the same clock as the moments the keys were pressed
(`perf_counter`).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pytest
from support.engine_takes import ATTEMPTS, judge_or_retake, never_clean, retake_after
from support.jackd import find_ports
from support.pilot import app_for, pick, start_session, until
from support.practice import TWINKLE, Practice, make_practice_with_songs
from support.recorder import RecorderProcess
from support.witness import RecordedTake

from audio.cues import SongCue
from audio.song import Loop
from audio.song_file import load_song

pytestmark = pytest.mark.jack

JACK_MIDI = "mido.backends.rtmidi/UNIX_JACK"
PORT = "companion-cues-test"
BPM = 240
BEAT_S = 60 / BPM
CLICK_CHANNEL = 9
MELODY_CHANNEL = 0
FADE_S = 2 * 4 * BEAT_S  # two bars of 4/4
TOLERANCE_S = 0.012
"""A JACK period (2.7 ms) each side plus slack for the shared machine."""


def note_ons(take: RecordedTake, channels: set[int]) -> list[tuple[float, int, int]]:
    """(perf_counter time, note, velocity) of the recorded note-ons on `channels`."""
    return [
        (take.to_perf(frame), data[1], data[2])
        for frame, data in take.midi
        if len(data) == 3 and data[0] & 0xF0 == 0x90 and data[2] > 0 and data[0] & 0x0F in channels
    ]


def loop_melody(loop: Loop) -> tuple[list[tuple[Fraction, int]], Fraction]:
    """The loop's melody note-ons as (beat into the loop, note), and the loop's length in beats."""
    song = load_song(TWINKLE)
    start, end = song.bar_start(loop.first_bar), song.bar_start(loop.last_bar + 1)
    notes = [
        (event.beat - start, event.message.note)
        for event in song.events_between(start, end)
        if event.message.type == "note_on" and event.message.velocity and event.message.channel == 0
    ]
    return notes, end - start


def assert_plays_the_loop(heard: list[tuple[float, int, int]], loop: Loop) -> None:
    """The heard melody is the loop's, round and round: right notes, each at its place in the cycle."""
    notes, length = loop_melody(loop)
    count = len(notes)
    assert len(heard) >= 2 * count, (heard, notes)
    pitches = [note for _, note, _ in heard]
    starts = [j for j in range(count) if all(p == notes[(j + k) % count][1] for k, p in enumerate(pitches))]
    assert starts, f"heard {pitches}, the loop plays {[n for _, n in notes]}"
    first = starts[0]

    def position(k: int) -> Fraction:
        turns, index = divmod(first + k, count)
        return turns * length + notes[index][0]

    errors = [
        (at - heard[0][0]) - float(position(k) - position(0)) * BEAT_S for k, (at, _, _) in enumerate(heard)
    ]
    assert max(abs(e) for e in errors) < TOLERANCE_S, errors


@dataclass
class KeysTake:
    """One run of the keys: what the witness heard, the loop set, and when each key was pressed."""

    take: RecordedTake
    loop: Loop
    looping_from: float
    music_faded: float
    click_faded: float
    ended: float


async def loop_then_fade(practice: Practice) -> KeysTake:
    """Twinkle at 240 bpm; L, L for a loop; 7 s later F (fade the music), 4 s later f (fade the click)."""
    app = app_for(practice.data_dir, metronome_outputs="midi", midi_virtual=PORT)
    async with app.run_test(size=(120, 40)) as pilot:
        await start_session(pilot)
        await pick(pilot, "* Twinkle")
        metronome = app.metronome
        metronome.set_bpm(BPM)
        await pilot.press("space")
        await until(pilot, lambda: metronome.running)
        assert metronome.state().problems == {}  # the MIDI port opened on JACK
        (source,) = find_ports(f":{PORT}$", is_midi=True, is_output=True)
        recorder = RecorderProcess("app-cues-witness", 40, midi=source)
        try:
            await until(pilot, lambda: metronome.current_bar() >= 2)
            await pilot.press("L")
            first = metronome.loop_start
            assert first is not None
            await until(pilot, lambda: metronome.current_bar() >= first + 1)
            await pilot.press("L")
            cue = metronome.cue
            assert isinstance(cue, SongCue) and cue.loop is not None
            loop = cue.loop
            looping_from = time.perf_counter() + (loop.last_bar - loop.first_bar + 1) * 4 * BEAT_S
            await pilot.pause(7)
            music_faded = time.perf_counter()
            await pilot.press("F")
            await pilot.pause(4)
            click_faded = time.perf_counter()
            await pilot.press("f")
            await pilot.pause(4)
        finally:
            take = recorder.stop()
        ended = time.perf_counter()
        await pilot.press("space")
        await until(pilot, lambda: not metronome.running)
    return KeysTake(take, loop, looping_from, music_faded, click_faded, ended)


async def test_a_loop_and_fades_from_the_keys_change_what_the_midi_port_plays(
    jack_server: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MIDO_BACKEND", JACK_MIDI)
    troubles: list[str] = []
    while len(troubles) < ATTEMPTS:  # a take whose witness is not clean is judged only if it holds
        take_dir = tmp_path / f"take-{len(troubles) + 1}"
        take_dir.mkdir()
        keys = await loop_then_fade(make_practice_with_songs(take_dir))
        trouble = judge_or_retake(keys.take.clean, keys.take.trouble(), lambda keys=keys: check_keys(keys))
        if trouble is None:
            break
        troubles.append(trouble)
        await asyncio.to_thread(retake_after, trouble)
    else:
        raise never_clean(troubles)


def check_keys(keys: KeysTake) -> None:
    """The loop played round and round until F; the music faded over two bars and fell silent while the
    click kept the beat; then f faded the click into silence too."""
    take, loop, music_faded, click_faded = keys.take, keys.loop, keys.music_faded, keys.click_faded

    melody = [n for n in note_ons(take, {MELODY_CHANNEL}) if keys.looping_from < n[0] < music_faded]
    assert_plays_the_loop(melody, loop)

    music = note_ons(take, {0, 1})
    fading = [velocity for at, _, velocity in music if music_faded < at < music_faded + FADE_S + 0.3]
    full = max(velocity for at, _, velocity in music if at < music_faded)
    assert fading and min(fading) < full / 2  # softer and softer over two bars...
    assert not [n for n in music if music_faded + FADE_S + 0.3 < n[0]], "...then silent"

    clicks = note_ons(take, {CLICK_CHANNEL})
    steady = [(at, velocity) for at, _, velocity in clicks if music_faded < at < click_faded]
    assert len(steady) >= 12 and {v for _, v in steady} == {v for at, _, v in clicks if at < music_faded}
    assert all(abs((b - a) - BEAT_S) < TOLERANCE_S for (a, _), (b, _) in itertools.pairwise(steady)), (
        "the click keeps the beat when the music fades"
    )
    after = [(at, velocity) for at, _, velocity in clicks if click_faded < at]
    assert after and min(v for _, v in after) < max(v for _, v in steady) / 2
    assert not [at for at, _ in after if at > click_faded + FADE_S + 0.3], "the click is silent too"
    assert keys.ended - click_faded > FADE_S + 1.0  # the silence was listened to, not assumed
