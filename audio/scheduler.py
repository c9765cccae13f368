"""The timing thread: MIDI messages sent at absolute `perf_counter` deadlines, and sources polled ahead.

Why absolute deadlines: each message carries the engine-clock time it must leave at, computed from the
tempo map, so a late wake-up delays one message and never the ones after it (no cumulative drift).
Why sleep-then-spin: the OS sleep overshoots by ~0.1-1 ms, so the thread sleeps until `spin_s` before a
deadline and busy-waits the rest (with realtime scheduling the overshoot is under 0.1 ms at p99 and 0.5 ms
at most, so it spins only `REALTIME_SPIN_S`). The spin gives the interpreter lock up on every turn: the
audio callback in the same process must never wait for a thread that is only watching the clock.
Sources (the click planner, a song player) are asked for their next
events `lookahead_s` ahead, never while a deadline is imminent, so their work cannot delay a send.

Garbage collection: in the engine's own process automatic collection is off (a collection runs in whichever
thread happens to allocate, and can hold the interpreter for milliseconds). With `collect_garbage` the
thread collects instead, itself, in a gap of at least `GC_GAP_S` before its next deadline: the young
generation every second, older ones now and then, each pause timed in `gc_pauses`. What is alive at each
start stays frozen after the stop there: a collection that scanned it all again would hold the interpreter
for 10-15 ms while the audio stream (still open between runs) needs it every period.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import itertools
import logging
import math
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import mido
import numpy as np

from audio.errors import OutputError

log = logging.getLogger(__name__)

SWITCH_INTERVAL_S = 0.0005
"""While the thread runs, other Python threads must hand back the GIL within this time (default 5 ms)."""


REALTIME_PRIORITY = 3
"""Above every normal thread and the engine process's other threads (`engine_host.PROCESS_PRIORITY`),
below the audio server's: JACK's client threads, our own audio callback among them, run at 5 with jackd's
defaults and higher on a tuned rig. A scheduler above them would keep the audio callback off the CPU
while it spins up to a deadline."""

REALTIME_SPIN_S = 0.0005
"""The spin before a deadline when the thread runs SCHED_FIFO (measured sleep overshoot: p99 0.1 ms)."""

GC_GAP_S = 0.01
"""A collection only starts this far (or further) ahead of the next deadline: far above its cost."""
GC_EVERY_S = 1.0
GC_OLDER_EVERY = (10, 60)
"""Every 10th collection also takes generation 1, every 60th generation 2 (all objects since start)."""


class EventSource(Protocol):
    """Anything that produces timed MIDI messages on the engine clock (clicks, a song, a groove).

    `events_until(horizon)` returns every not-yet-returned (perf_counter time, message) due before
    `horizon`, in time order. A source may also do other work for that stretch (the click planner feeds
    the audio renderer from here). It is called from the scheduler thread only.
    """

    def events_until(self, horizon: float) -> Iterable[tuple[float, mido.Message]]: ...


@runtime_checkable
class ReleasingSource(EventSource, Protocol):
    """An event source that must hear when its look-ahead is thrown away (stop, flush).

    Why: a source hands out note-ons and their note-offs ahead of time and counts a note as ended once its
    note-off is handed out. When the scheduler drops its queue, those note-offs never leave and the notes
    would hang. `dropped(unsent)` gets every (time, message) the source returned that was not sent (maybe
    none) and returns the messages to send at once: note-offs for everything still sounding.
    """

    def dropped(self, unsent: Sequence[tuple[float, mido.Message]]) -> Iterable[mido.Message]: ...


_Pending = tuple[float, int, mido.Message, EventSource | None]
"""A queued message: deadline, arrival order (ties), the message, and the source that produced it."""


class Jitter:
    """Send lateness (send-call time minus deadline) in a preallocated ring, for the benchmark and status."""

    def __init__(self, capacity: int = 65_536) -> None:
        self.values = np.zeros(capacity, dtype=np.float64)
        self.count = 0

    def add(self, lateness_s: float) -> None:
        self.values[self.count % len(self.values)] = lateness_s
        self.count += 1

    def recent(self) -> np.ndarray:
        return self.values[: min(self.count, len(self.values))].copy()

    def clear(self) -> None:
        self.count = 0


class MidiScheduler:
    """Sends messages at their deadlines from one dedicated thread, and polls event sources ahead.

    `send` does the actual output (it may raise OutputError; `on_error` is then told and the thread goes
    on). Thread-safe entry points: `schedule`, `add_source`, `remove_source`, `flush`, `stop`.
    """

    def __init__(
        self,
        send: Callable[[mido.Message], None],
        *,
        on_error: Callable[[OutputError], None],
        lookahead_s: float = 0.12,
        poll_s: float = 0.02,
        spin_s: float = 0.0015,
        collect_garbage: bool = False,
    ) -> None:
        self._send = send
        self._on_error = on_error
        self.lookahead_s = lookahead_s
        self.poll_s = poll_s
        self.spin_s = spin_s
        self.jitter = Jitter()
        self._inbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._heap: list[_Pending] = []
        self._order = itertools.count()
        self._sources: list[EventSource] = []
        self._thread: threading.Thread | None = None
        self._running = False
        self._saved_switch = sys.getswitchinterval()
        self.realtime = False
        """Whether the thread got realtime scheduling (reported by `companion metronome`)."""
        self.collect_garbage = collect_garbage
        self.gc_pauses: list[float] = []
        """Seconds each collection took (with `collect_garbage`), the latest 1,000."""
        self._collections = 0
        self._next_collection = 0.0

    # --- control (any thread) -------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._running = True
        self._saved_switch = sys.getswitchinterval()
        sys.setswitchinterval(min(self._saved_switch, SWITCH_INTERVAL_S))
        # A full garbage collection holds the GIL for tens of ms in a big app (measured 15-30 ms with a
        # busy Textual app); objects alive at start are frozen out of collections while we play.
        gc.freeze()
        self._thread = threading.Thread(target=self._run, name="companion-midi-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread. Pending messages are dropped, except what releasing sources ask to send at once
        (their note-offs); the caller sends its own all-notes-off afterwards."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._running = False
        self._inbox.put(("wake", None))
        thread.join(timeout=2)
        sys.setswitchinterval(self._saved_switch)
        if not self.collect_garbage:
            gc.unfreeze()  # in a shared process, the app's own collections take those objects back
        for message in self._drop_pending():
            self._send_safely(message)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def schedule(self, at: float, message: mido.Message) -> None:
        """Send `message` at engine-clock time `at` (perf_counter seconds)."""
        self._inbox.put(("msg", (at, message)))

    def add_source(self, source: EventSource) -> None:
        self._inbox.put(("add", source))

    def remove_source(self, source: EventSource) -> None:
        self._inbox.put(("remove", source))

    def flush(self) -> None:
        """Drop every pending message; releasing sources' note-offs still go out at once."""
        self._inbox.put(("flush", None))

    # --- the thread -----------------------------------------------------------------------------

    def _take(self, item: tuple[str, Any]) -> None:
        kind, value = item
        if kind == "msg":
            at, message = value
            heapq.heappush(self._heap, (at, next(self._order), message, None))
        elif kind == "add":
            self._sources.append(value)
        elif kind == "remove":
            self._sources = [s for s in self._sources if s is not value]
        elif kind == "flush":
            now = time.perf_counter()
            for message in self._drop_pending():
                heapq.heappush(self._heap, (now, next(self._order), message, None))

    def _drop_pending(self) -> list[mido.Message]:
        """Empty the queue; return what releasing sources (current ones, and removed ones that still had
        messages queued) want sent at once in place of what was dropped."""
        pending, self._heap = sorted(self._heap), []
        sources = list(self._sources)
        sources += [s for *_, s in pending if s is not None and s not in sources]
        release: list[mido.Message] = []
        for source in sources:
            if isinstance(source, ReleasingSource):
                unsent = [(at, message) for at, _, message, owner in pending if owner is source]
                try:
                    release += source.dropped(unsent)
                except Exception:  # a broken source must not keep the others' notes hanging
                    log.exception("event source %r failed to release its notes", source)
        return release

    def _poll_sources(self, now: float) -> None:
        horizon = now + self.lookahead_s
        for source in list(self._sources):
            try:
                events = list(source.events_until(horizon))
            except Exception:  # a broken source (a song file) must not stop the others or the clicks
                log.exception("event source %r failed and was removed", source)
                self._sources.remove(source)
                continue
            for at, message in events:
                heapq.heappush(self._heap, (at, next(self._order), message, source))

    def _raise_priority(self) -> None:
        """Ask for realtime scheduling (SCHED_FIFO) so a busy machine cannot hold a send back for
        milliseconds; without the right (no rtprio limit) the thread runs as a normal thread."""
        try:
            os.sched_setscheduler(threading.get_native_id(), os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
            self.realtime = True
        except (AttributeError, OSError):
            self.realtime = False

    def _run(self) -> None:
        self._raise_priority()
        spin_s = min(self.spin_s, REALTIME_SPIN_S) if self.realtime else self.spin_s
        next_poll = 0.0
        perf, yield_lock = time.perf_counter, time.sleep
        while self._running:
            now = perf()
            deadline = self._heap[0][0] if self._heap else math.inf
            if now >= next_poll and deadline - now > 3 * spin_s:
                self._poll_sources(now)
                next_poll = now + self.poll_s
                continue
            if self.collect_garbage and now >= self._next_collection and deadline - now > GC_GAP_S:
                self._collect(now)
                continue
            wake = min(deadline - spin_s, next_poll)
            if wake > now:
                with contextlib.suppress(queue.Empty):
                    self._take(self._inbox.get(timeout=wake - now))
                continue
            while perf() < deadline:
                yield_lock(0)
            self._send_due()

    def _collect(self, now: float) -> None:
        self._collections += 1
        young, middle = GC_OLDER_EVERY
        generation = 2 if self._collections % middle == 0 else 1 if self._collections % young == 0 else 0
        gc.collect(generation)
        self.gc_pauses = [*self.gc_pauses[-999:], time.perf_counter() - now]
        self._next_collection = now + GC_EVERY_S

    def _send_due(self) -> None:
        perf = time.perf_counter
        while self._heap and self._heap[0][0] <= perf():
            at, _, message, _ = heapq.heappop(self._heap)
            self.jitter.add(perf() - at)
            self._send_safely(message)

    def _send_safely(self, message: mido.Message) -> None:
        try:
            self._send(message)
        except OutputError as exc:
            self._on_error(exc)
