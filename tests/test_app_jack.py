"""The app's metronome on a real JACK server keeps its beat while the pilot drives the session screen.

The witness is the engine's JACK recorder in its own process (`support.recorder`), so the app's busy UI
thread cannot disturb the recording; every assertion is about what it heard (note-ons with their JACK
frames), never about the engine's own counters. MIDI through python-rtmidi's JACK API leaves at the start
of the next JACK period (128 frames = 2.67 ms at 48 kHz), so one interval may be a period off; the mean
must be the tempo's. Only intervals the witness saw cleanly are judged (`witness.Witness.trusted`: none
near a JACK xrun or a missed cycle, none with MIDI in a late cycle); takes go on while the app plays, up
to `ATTEMPTS`, until `NEED_INTERVALS` are judged, and the test fails if they never are.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
from collections.abc import Awaitable, Callable

import pytest
from support.engine_takes import ATTEMPTS, never_clean, retake_after
from support.jackd import find_ports
from support.pilot import app_for, log_lines, on_screen, start_session, until
from support.practice import Practice
from support.recorder import RecorderProcess
from support.witness import RecordedTake
from textual.pilot import Pilot

from companion.app.screens.dialogs import Pick, TextPrompt
from companion.app.screens.session.screen import LiveSessionScreen

pytestmark = pytest.mark.jack

JACK_MIDI = "mido.backends.rtmidi/UNIX_JACK"
PORT = "companion-app-test"
BPM = 120
PERIOD_S = 128 / 48_000
ROUNDS = 6
NEED_INTERVALS = 8
"""Judged beat intervals a test needs (a clean six-round take has about ten)."""
CLICK_NOTES = frozenset({76, 77})
"""The click's GM wood blocks (accent, beat); a groove plays kick, snare and hats around them."""


async def work_the_screen(pilot: Pilot[None]) -> None:
    """What a therapist does mid-exercise: trials, a prompt, next objective, a count, a typed note."""
    for _ in range(ROUNDS):
        await pilot.press("plus", "minus", "2", "right_square_bracket", "c")
        await pilot.pause(0.05)
        if isinstance(pilot.app.screen, Pick):  # the first count on an objective asks what it counts
            await pilot.press("1")
            await on_screen(pilot, LiveSessionScreen)
        await pilot.press("n")
        await on_screen(pilot, TextPrompt)
        await pilot.press(*"steady", "enter")
        await on_screen(pilot, LiveSessionScreen)
        await pilot.pause(0.4)


def settled_note_ons(take: RecordedTake) -> list[tuple[int, int, int]]:
    """(frame, note, velocity) from one second into the take (the connection has settled)."""
    return [n for n in take.note_ons() if n[0] >= take.first_frame + take.samplerate]


def beat_intervals(take: RecordedTake, notes: frozenset[int] = CLICK_NOTES) -> list[float]:
    """Seconds between consecutive recorded click note-ons (the wood blocks), each interval only when
    the witness saw it cleanly from end to end."""
    frames = [frame for frame, note, _ in settled_note_ons(take) if note in notes]
    return [(b - a) / take.samplerate for a, b in itertools.pairwise(frames) if take.trusted(a, b)]


async def judged_takes(name: str, source: str, play: Callable[[], Awaitable[None]]) -> list[RecordedTake]:
    """Record `play` again and again (the app plays on) until `NEED_INTERVALS` beat intervals are judged;
    WitnessNeverClean after `ATTEMPTS` takes without them."""
    takes: list[RecordedTake] = []
    troubles: list[str] = []
    while sum(len(beat_intervals(take)) for take in takes) < NEED_INTERVALS:
        if len(troubles) == ATTEMPTS:
            raise never_clean(troubles)
        recorder = RecorderProcess(name, 30, midi=source)
        await play()
        takes.append(recorder.stop())
        judged = sum(len(beat_intervals(take)) for take in takes)
        if judged < NEED_INTERVALS:
            troubles.append(f"{takes[-1].trouble() or 'clean'}; {judged} intervals judged so far")
            await asyncio.to_thread(retake_after, troubles[-1])
    return takes


def check_steady(takes: list[RecordedTake], bpm: float) -> None:
    """The judged intervals average the tempo's beat within 1 ms, and at most 1 in 20 is off by more than
    a JACK period and a wake-up."""
    intervals = [i for take in takes for i in beat_intervals(take)]
    expected = 60 / bpm
    assert len(intervals) >= NEED_INTERVALS
    assert abs(statistics.fmean(intervals) - expected) < 0.001, intervals
    off = [i for i in intervals if abs(i - expected) > PERIOD_S + 0.004]
    # One late wake-up of the scheduler thread on a shared, oversubscribed machine is the OS, not the app;
    # a pattern (more than 1 in 20) would be the app holding the engine up.
    assert len(off) <= max(1, len(intervals) // 20), (off, [take.trouble() for take in takes])


async def test_the_midi_metronome_keeps_time_while_the_app_is_used(
    jack_server: object, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIDO_BACKEND", JACK_MIDI)
    app = app_for(practice.data_dir, metronome_outputs="midi", midi_virtual=PORT)
    async with app.run_test(size=(100, 32)) as pilot:
        await start_session(pilot)
        app.metronome.set_bpm(BPM)
        await pilot.press("space")
        await until(pilot, lambda: app.metronome.running)
        assert app.metronome.state().problems == {}  # the MIDI port opened on JACK
        (source,) = find_ports(f":{PORT}$", is_midi=True, is_output=True)
        takes = await judged_takes("app-witness", source, lambda: work_the_screen(pilot))
        await pilot.press("space")
        await until(pilot, lambda: not app.metronome.running)
        assert len(log_lines(app)) >= ROUNDS * 5
    check_steady(takes, BPM)


async def test_a_plans_groove_plays_with_a_steady_click(
    jack_server: object, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIDO_BACKEND", JACK_MIDI)
    app = app_for(practice.data_dir, metronome_outputs="midi", midi_virtual=PORT)
    async with app.run_test(size=(100, 32)) as pilot:
        await start_session(pilot, "down", "s")  # Ben: TIMP drum reach, its cue the rock groove
        await pilot.press("p")
        assert "rock groove" in app.metronome.state().cue_line
        tempo = float(app.metronome.settings.bpm)
        await pilot.press("space")
        await until(pilot, lambda: app.metronome.running)
        (source,) = find_ports(f":{PORT}$", is_midi=True, is_output=True)
        takes = await judged_takes("app-groove-witness", source, lambda: pilot.pause(10))
        await pilot.press("space")
        await until(pilot, lambda: not app.metronome.running)
    groove = [note for _, note, _ in settled_note_ons(takes[0]) if note not in CLICK_NOTES]
    assert len(groove) >= 8 and {36, 38} & set(groove)  # kick and snare under the click
    check_steady(takes, tempo)
