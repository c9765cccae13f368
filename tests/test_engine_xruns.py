"""Lost audio cycles never shift the beat grid.

The engine process is frozen (SIGSTOP) for a few JACK periods mid-run, as an overloaded machine would
starve it: JACK runs on without it (xruns) and the clicks due in those periods are lost. Every click the
witness hears afterwards must still be on its exact sample of the tempo map, and MIDI must keep the tempo
(notes due while frozen leave late; none after them). The engine plays into JACK directly (audio device
"jack"): through PortAudio a callback only estimates which frames it renders, and after lost cycles that
estimate can be a period or more off (seen here: clicks 128-1408 samples late).

The witness is a JACK client in another process, connected to the engine's ports: JACK skips it too while
the engine it listens to is frozen, so its missed cycles here are the engine's, not a broken witness. What
it records stays on JACK's absolute frame count (a skipped cycle leaves silence, never a shift).
"""

from __future__ import annotations

import itertools
import os
import signal
import time

import numpy as np
import pytest
from support.engine_takes import JACK_MIDI, PERIOD_S
from support.jackd import find_ports
from support.recorder import RecorderProcess
from support.witness import RecordedTake

from audio.engine_client import RemoteMetronome
from audio.engine_config import AudioConfig, MidiConfig
from audio.engine_process import EngineProcess
from audio.render import sample_at
from audio.sounds import Sound, Voice
from audio.tempo import Level, TempoSettings
from audio.tempo_map import TempoMap

pytestmark = [pytest.mark.jack, pytest.mark.usefixtures("jack_server")]  # before the engine starts

RATE = 48_000
BPM, SUBDIVISION = 125, 4
"""A click every 0.12 s: each stall below swallows at most one."""
STALL_S = 0.03


def stalled_take(engine: EngineProcess) -> tuple[RecordedTake, TempoMap, int]:
    """Play audio and MIDI for 3 s, freezing the engine process twice; return what the witness heard."""
    voices = {level: Voice(Sound.SOFT_CLICK, 0.8) for level in (Level.ACCENT, Level.BEAT, Level.SUB)}
    metronome = RemoteMetronome(
        TempoSettings(bpm=BPM, subdivision=SUBDIVISION),
        audio=AudioConfig(device="jack", voices=voices),
        midi=MidiConfig(virtual="xruns", backend=JACK_MIDI),
        process=engine,
    )
    try:
        assert metronome.open() == []
        audio_port = find_ports("Companion audio:out_0", is_audio=True, is_output=True)[0]
        witness = RecorderProcess("xrun-witness", 8, audio=audio_port, midi="Companion:xruns")
        origin = metronome.start()
        time.sleep(max(0.0, origin - time.perf_counter()) + 0.8)
        assert engine.pid is not None
        for pause in (0.0, 0.77):  # two stalls, at different places within a click interval
            time.sleep(pause)
            os.kill(engine.pid, signal.SIGSTOP)
            time.sleep(STALL_S)
            os.kill(engine.pid, signal.SIGCONT)
        time.sleep(1.2)
        tempo, xruns = metronome.tempo_map, metronome.status().xruns
        metronome.stop()
        time.sleep(0.05)
        take = witness.stop()
    finally:
        metronome.close()
    assert tempo is not None
    return take, tempo, xruns


def test_after_lost_cycles_every_click_is_still_on_its_exact_sample(engine: EngineProcess) -> None:
    take, tempo, xruns = stalled_take(engine)
    assert xruns >= 1, "the engine did not count the cycles it lost"
    onsets = take.audio_onsets(gap=100)
    expected = np.array(
        [sample_at(c.time_s, RATE) for c in itertools.islice(tempo.clicks(0), 2 * len(onsets) + 8)]
    )
    relative = np.array(onsets) - onsets[0] + expected[0]
    offsets = [int(np.min(np.abs(expected - r))) for r in relative]
    assert max(offsets) <= 1, offsets  # not one period (128 samples) late after the xruns
    span = expected[(expected >= expected[0]) & (expected <= relative[-1])]
    assert len(span) - len(onsets) <= 2  # at most the clicks due while frozen are lost

    # MIDI: every note, each interval the tempo's within a JACK period (MIDI leaves at period starts),
    # but for the intervals spanning the two stalls (notes due while frozen leave late).
    notes = np.array([frame for frame, _, _ in take.note_ons()])
    assert len(notes) >= len(onsets)
    errors_ms = (np.diff(notes) - np.diff(expected[: len(notes)])) / (RATE / 1000)
    off = errors_ms[np.abs(errors_ms) > PERIOD_S * 1000 + 0.1]
    assert len(off) <= 4, errors_ms
