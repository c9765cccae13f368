"""What the engine tells the outside world (the UI, the CLI, a session log), and how it gets there.

Why a dispatcher thread with a bounded queue: listeners (a Textual app redrawing, a slow disk) must never
delay the engine. The engine only does a non-blocking put; if listeners fall behind, events are dropped
and counted rather than queued without bound. The dispatcher delivers each beat at its scheduled time,
so a UI flash coincides with the sound instead of arriving one look-ahead early.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from audio.tempo import Level

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BeatEvent:
    """One click as it sounds.

    `beat_index` counts from 0 after the count-in (count-in beats are negative, `count_in` True);
    `bar` and `beat` are 0-based; `time` is the scheduled engine-clock time (perf_counter seconds).
    """

    beat_index: int
    bar: int
    beat: int
    sub: int
    level: Level
    bpm: Fraction
    time: float
    count_in: bool

    @property
    def is_subdivision(self) -> bool:
        return self.sub != 0


@dataclass(frozen=True, slots=True)
class OutputProblem:
    """An output failed (`recovered` False) or came back (`recovered` True); the message has cause and fix."""

    output: str
    message: str
    recovered: bool = False
    time: float = 0.0


@dataclass(frozen=True, slots=True)
class Xruns:
    """The audio stream lost cycles (the audio server ran on without us): `count` so far on this stream.

    Clicks stay on their exact samples after a lost cycle (the stream's sample count skips the lost
    frames); a click that fell inside one is cut, never moved. Shown so a therapist can raise the buffer."""

    count: int
    time: float = 0.0


EngineEvent = BeatEvent | OutputProblem | Xruns
Listener = Callable[[EngineEvent], None]


class Dispatcher:
    """Delivers engine events to listeners from its own thread, beats at their scheduled time."""

    def __init__(self, capacity: int = 1024) -> None:
        self._queue: queue.Queue[EngineEvent | None] = queue.Queue(maxsize=capacity)
        self._listeners: tuple[Listener, ...] = ()
        self.dropped = 0
        self._thread: threading.Thread | None = None

    def add(self, listener: Listener) -> Callable[[], None]:
        """Register a listener; returns a function that removes it."""
        self._listeners = (*self._listeners, listener)

        def remove() -> None:
            self._listeners = tuple(x for x in self._listeners if x is not listener)

        return remove

    def publish(self, event: EngineEvent) -> None:
        """Never blocks: a full queue drops the event and counts it."""
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="companion-events", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            while True:
                try:
                    self._queue.put(None, timeout=0.5)
                    break
                except queue.Full:
                    self._drain()
            thread.join(timeout=2)

    def _drain(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
                self.dropped += 1
        except queue.Empty:
            pass

    def _run(self) -> None:
        while (event := self._queue.get()) is not None:
            if isinstance(event, BeatEvent):
                delay = event.time - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            for listener in self._listeners:
                try:
                    listener(event)
                except Exception:
                    log.exception("listener %r failed; the engine carries on", listener)
