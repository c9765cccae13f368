"""The scheduler thread and the listener dispatcher, with real threads and a real clock (no JACK needed)."""

from __future__ import annotations

import threading
import time

import mido
import numpy as np

from audio.engine_events import BeatEvent, Dispatcher, OutputProblem
from audio.errors import OutputError
from audio.scheduler import MidiScheduler
from audio.tempo import Level

NOTE = mido.Message("note_on", note=60, velocity=90)


class Sink:
    """Records the engine-clock time of every message the scheduler sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, mido.Message]] = []

    def __call__(self, message: mido.Message) -> None:
        self.sent.append((time.perf_counter(), message))


class Grid:
    """An EventSource: a note every `step` seconds from `start`, handed out only up to the horizon."""

    def __init__(self, start: float, step: float, count: int) -> None:
        self.times = [start + k * step for k in range(count)]
        self.horizons: list[float] = []

    def events_until(self, horizon: float) -> list[tuple[float, mido.Message]]:
        self.horizons.append(horizon)
        due = [t for t in self.times if t < horizon]
        self.times = self.times[len(due) :]
        return [(t, NOTE) for t in due]


def test_messages_leave_at_their_absolute_deadlines_without_drift():
    sink = Sink()
    scheduler = MidiScheduler(sink, on_error=lambda e: None)
    start = time.perf_counter() + 0.05
    grid = Grid(start, 0.01, 60)
    scheduler.add_source(grid)
    scheduler.start()
    time.sleep(0.05 + 0.6 + 0.1)
    scheduler.stop()
    sent = np.array([t for t, _ in sink.sent])
    assert len(sent) == 60
    lateness = sent - (start + 0.01 * np.arange(60))
    assert lateness.min() >= 0  # never early
    assert np.median(lateness) < 0.001  # sleep-then-spin: typically tens of microseconds
    assert abs(lateness[-10:].mean() - lateness[:10].mean()) < 0.002  # no cumulative drift
    assert min(h - start for h in grid.horizons) < 0.2  # asked a look-ahead in advance, not all at once
    assert scheduler.jitter.count == 60


def test_flush_drops_pending_messages_and_errors_are_reported_not_raised():
    errors: list[OutputError] = []

    def broken(message: mido.Message) -> None:
        raise OutputError("MIDI port gone", "plug it back in")

    scheduler = MidiScheduler(broken, on_error=errors.append)
    scheduler.start()
    now = time.perf_counter()
    scheduler.schedule(now + 0.02, NOTE)
    scheduler.schedule(now + 0.5, NOTE)
    time.sleep(0.1)
    scheduler.flush()
    time.sleep(0.6)
    scheduler.stop()
    assert [str(e) for e in errors] == ["MIDI port gone: plug it back in"]


def beat(at: float, index: int = 0) -> BeatEvent:
    return BeatEvent(index, 0, index, 0, Level.BEAT, 120, at, False)


def test_dispatcher_delivers_beats_at_their_time_and_a_slow_listener_never_blocks_publish():
    dispatcher = Dispatcher(capacity=8)
    got: list[tuple[float, object]] = []
    release = threading.Event()

    def slow(event: object) -> None:
        got.append((time.perf_counter(), event))
        release.wait(2)

    dispatcher.add(slow)
    dispatcher.start()
    at = time.perf_counter() + 0.1
    dispatcher.publish(beat(at))
    time.sleep(0.2)
    begin = time.perf_counter()
    for k in range(50):  # the listener is stuck: the queue fills, publish must still return at once
        dispatcher.publish(beat(0.0, k + 1))
    assert time.perf_counter() - begin < 0.05
    assert dispatcher.dropped >= 50 - 8
    release.set()
    dispatcher.publish(OutputProblem("midi", "gone"))
    time.sleep(0.2)
    dispatcher.stop()
    assert got[0][1] == beat(at)
    assert 0 <= got[0][0] - at < 0.05


def test_a_failing_listener_does_not_stop_the_others():
    dispatcher = Dispatcher()
    got: list[object] = []

    def broken(event: object) -> None:
        raise RuntimeError("listener bug")

    dispatcher.add(broken)
    remove = dispatcher.add(got.append)
    dispatcher.start()
    dispatcher.publish(OutputProblem("audio", "x"))
    time.sleep(0.1)
    remove()
    dispatcher.publish(OutputProblem("audio", "y"))
    time.sleep(0.1)
    dispatcher.stop()
    assert got == [OutputProblem("audio", "x")]


def test_a_failing_source_is_dropped_and_the_others_play_on():
    class Broken:
        def events_until(self, horizon: float) -> list[tuple[float, mido.Message]]:
            raise ValueError("corrupt song file")

    sink = Sink()
    scheduler = MidiScheduler(sink, on_error=lambda e: None)
    start = time.perf_counter() + 0.05
    scheduler.add_source(Broken())
    scheduler.add_source(Grid(start, 0.02, 10))
    scheduler.start()
    time.sleep(0.05 + 0.2 + 0.1)
    scheduler.stop()
    assert len(sink.sent) == 10
