"""The timing engine in its own process: calls and errors cross the channel as themselves, events come
back, and a killed engine is restarted with the metronome playing on as it was.

These run without JACK (a metronome with no output still keeps time in the engine process and sends
its beats); the JACK tests (`test_engine_jack.py`, `test_app_jack.py`) play through the same process.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from fractions import Fraction

import pytest
from support.pilot import app_for, log_lines, start_session, until, until_notified
from support.practice import Practice

from audio.cue_state import CueState
from audio.cues import CLICK, GrooveCue
from audio.engine_client import RemoteCuePlayer, RemoteMetronome
from audio.engine_config import AudioConfig
from audio.engine_events import BeatEvent, EngineEvent, OutputProblem
from audio.engine_process import ENGINE, EngineProcess
from audio.errors import OutputError
from audio.grooves import GROOVES
from audio.tempo import TempoError, TempoSettings
from companion.app.widgets.beat_light import BeatLight
from companion.record import Trial


class Heard:
    """A listener that keeps every event and lets a test wait for one."""

    def __init__(self) -> None:
        self.events: list[EngineEvent] = []
        self._changed = threading.Condition()

    def __call__(self, event: EngineEvent) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait_for(self, what: type, timeout: float = 10.0, **fields: object) -> EngineEvent:
        def found() -> EngineEvent | None:
            return next(
                (
                    e
                    for e in self.events
                    if isinstance(e, what) and all(getattr(e, k) == v for k, v in fields.items())
                ),
                None,
            )

        with self._changed:
            self._changed.wait_for(lambda: found() is not None, timeout)
            event = found()
        assert event is not None, f"no {what.__name__} {fields} in {self.events[-5:]}"
        return event

    def beats(self) -> list[BeatEvent]:
        return [e for e in self.events if isinstance(e, BeatEvent)]


def test_the_engine_runs_elsewhere_and_reports_how_it_keeps_time(engine: EngineProcess) -> None:
    assert engine.pid is not None and engine.pid != os.getpid()
    hello = engine.hello
    assert hello is not None and hello.pid == engine.pid
    # Realtime priority and locked memory where the OS allows them, otherwise a note saying how to.
    assert hello.realtime or any("realtime" in note for note in hello.notes)
    assert hello.memory_locked or any("memlock" in note for note in hello.notes)


def test_beats_come_back_on_the_tempo_map_and_tempo_changes_apply(engine: EngineProcess) -> None:
    heard = Heard()
    metronome = RemoteMetronome(TempoSettings(bpm=240), process=engine)
    metronome.add_listener(heard)
    try:
        origin = metronome.start()
        assert metronome.running and metronome.origin == origin
        heard.wait_for(BeatEvent, beat_index=3)
        assert metronome.time_of(8) == pytest.approx(origin + 2.0, abs=1e-6)
        assert metronome.beat_at(origin + 0.5) == 2
        metronome.set_tempo(120)
        assert metronome.settings.bpm == 120
        heard.wait_for(BeatEvent, bpm=Fraction(120))
        tempo = metronome.tempo_map
        assert tempo is not None and tempo.bpm_at(1000) == 120
    finally:
        metronome.close()
    beats = heard.beats()
    assert [b.beat_index for b in beats] == list(range(len(beats)))
    assert all(b.time >= origin for b in beats)


def test_errors_cross_the_channel_as_themselves(engine: EngineProcess) -> None:
    metronome = RemoteMetronome(
        TempoSettings(bpm=90), audio=AudioConfig(device="no-such-sound-card-xyz"), process=engine
    )
    try:
        (problem,) = metronome.open()
        assert problem.output == "audio" and "no-such-sound-card-xyz" in problem.message
        with pytest.raises(OutputError, match="no output could be opened"):
            metronome.start()
        with pytest.raises(TempoError, match="300"):
            metronome.set_tempo(500)
        with pytest.raises(ValueError, match="no 'midi' output"):
            metronome.set_muted("midi", True)
        player = RemoteCuePlayer(metronome, CLICK)
        with pytest.raises(ValueError, match="only a groove has an intensity"):
            player.set_intensity(3)
        player.play(GrooveCue(GROOVES["rock"]))
        state = player.state()
        assert isinstance(state, CueState) and state.cue.name == "rock"
        player.play(CLICK)
        assert player.state().cue is CLICK  # the one CLICK, back from the other process
        player.close()
    finally:
        metronome.close()


def test_a_killed_engine_is_restarted_and_the_metronome_plays_on(engine: EngineProcess) -> None:
    heard = Heard()
    metronome = RemoteMetronome(TempoSettings(bpm=200, count_in_bars=1), process=engine)
    metronome.add_listener(heard)
    try:
        metronome.start()
        metronome.set_tempo(150)
        heard.wait_for(BeatEvent, bpm=Fraction(150))
        killed = engine.pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        lost = heard.wait_for(OutputProblem, output=ENGINE, recovered=False)
        assert isinstance(lost, OutputProblem) and "killed by signal 9" in lost.message
        back = heard.wait_for(OutputProblem, output=ENGINE, recovered=True)
        assert isinstance(back, OutputProblem) and "plays on" in back.message
        assert engine.pid != killed and engine.restarts == 1 and metronome.running
        after = len(heard.beats())
        deadline = time.monotonic() + 10
        while len(heard.beats()) < after + 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        resumed = heard.beats()[after:]
        # It plays on at the tempo it had reached, with no count-in: the client keeps walking.
        assert len(resumed) >= 3 and all(b.bpm == 150 and not b.count_in for b in resumed)
    finally:
        metronome.close()


async def test_killing_the_engine_mid_session_is_said_and_every_tap_is_kept(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await start_session(pilot)

        def trials_shown() -> int:
            return sum(isinstance(line.entry.event.payload, Trial) for line in log_lines(app))

        await pilot.press("space")
        await until(pilot, lambda: app.metronome.running)
        engine = app.metronome.engine
        assert engine is not None
        light = screen.query_one(BeatLight)
        await until(pilot, lambda: light.shown >= 2)
        await pilot.press("plus", "plus", "minus")
        await until(pilot, lambda: trials_shown() == 3)
        killed = engine.process.pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        await until_notified(pilot, app, "timing engine stopped")
        await pilot.press("plus")  # taps carry on while the engine restarts
        await until_notified(pilot, app, "timing engine was restarted")
        assert engine.process.pid != killed and app.metronome.running
        shown = light.shown
        await until(pilot, lambda: light.shown > shown + 1)
        await pilot.press("minus")
        await until(pilot, lambda: trials_shown() == 5)
        session_id = screen.live.session.id
    with practice.open() as record:
        trials = [e.payload for e in record.events.session_events(session_id) if isinstance(e.payload, Trial)]
    assert [t.correct for t in trials] == [True, True, False, True, False]
