"""Listening to the client in a session: feedback per hit, block figures in the record, adaptive tempo.

`SyncSession` joins three things that run on their own clocks and threads: the metronome (its schedule of
beats on the engine clock), the client's hits (a `MidiInput` delivery thread calls `hit`) and the
session record. It is plain Python, no Textual: the session screen draws what the callbacks hand it
(they run on SyncSession's threads; a Textual app forwards them with `call_from_thread`).

Why the beats come from the metronome's schedule rather than its BeatEvents: a BeatEvent arrives when
its beat sounds, but a client who is early hits *before* that, and the hit must be matched at once to
show it as early. So a follower thread (every 50 ms) reads `Metronome.time_of` for the beats of the next
second, announces them to `LiveSync` and revises them when the tempo changed (a tempo change moves every
beat not yet played; `LiveSync.set_beats` then matches the open beats again). The same thread closes
beats whose window has passed, feeds adaptive tempo, and logs each complete block as a `Sync` event.

Durable before reported: `on_block` is called after `record.events.log` returned, so a block the screen shows
as saved is on disk. If the disk refuses, the record keeps the event pending and retries it with the next
write; the report says so. A block in which fewer than two beats were hit has no timing figures (no SD,
no R): it is reported but not logged, since `Sync` needs them.

Metronome runs: each start of the metronome is a run with its own beat numbers. The unfinished block of a
run that stops is summarised and logged (`final`), and a new run starts a new block. Count-in beats are
not analysed: the client listens to them.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Protocol, TypeVar

from audio.cadence import (
    GAIT_MAX_BPM,
    AdaptiveMode,
    AdaptiveSettings,
    AdaptiveState,
    AdaptiveTempo,
    CadenceError,
    cadence,
)
from audio.cadence import Cadence as MeasuredCadence
from audio.midi_input import Hit
from audio.sync_analysis import (
    DEFAULT_TOLERANCE,
    BeatOutcome,
    HitFeedback,
    LiveSync,
    SyncSummary,
    Tolerance,
)
from audio.tempo import Number, TempoMap, TempoSettings
from companion.record import (
    Cadence,
    Event,
    EventDraft,
    Payload,
    Record,
    StorageError,
    Sync,
    Tempo,
    UnknownRecord,
)

log = logging.getLogger(__name__)

TICK_S = 0.05
"""How often the follower reads the schedule and closes beats: well under any beat window."""
LOOK_AHEAD_S = 1.0
"""Beats are announced this far ahead (and always two beyond now), so an early hit finds its beat."""
GRACE_S = 0.3
"""A beat stays open this long after its window, for hits the MIDI path delivers late: on a busy 2-core
machine a Python thread can wait ~0.1 s for the GIL, and a hit whose beat has closed no longer counts."""
MIN_HITS_TO_LOG = 2
"""A block needs two beats hit for an SD and a meaningful R."""
TEMPO_EPSILON_BPM = 0.01

T = TypeVar("T")


@dataclass(frozen=True)
class SyncSettings:
    """How a session listens: block length, the on-beat window, which notes count, adaptive tempo."""

    block_beats: int = 16
    tolerance: Tolerance = DEFAULT_TOLERANCE
    notes: frozenset[int] | None = None
    """Only these MIDI notes count as hits (e.g. the drum pad, not the pedal); None = every note."""
    adaptive: AdaptiveSettings = field(default_factory=AdaptiveSettings)
    """Off by default (`AdaptiveMode.OFF`); see `adaptive_settings` for a plan's limits."""

    def __post_init__(self) -> None:
        if self.block_beats < 2:
            raise ValueError("a block needs at least 2 beats")


def adaptive_settings(tempo: TempoSettings, mode: AdaptiveMode | str, **overrides: Any) -> AdaptiveSettings:
    """Adaptive tempo within a plan's working range (`bpm_min`/`bpm_max`), bar length from its meter;
    `overrides` are other `AdaptiveSettings` fields (e.g. `r_threshold=0.8`).

    Without a range the limits are 40 bpm and the gait ceiling, widened to the tempo itself when it lies
    outside them, so switching adaptive tempo on never makes the tempo jump.
    """
    bpm = float(tempo.bpm)
    low = float(tempo.bpm_min) if tempo.bpm_min is not None else min(40.0, bpm)
    high = float(tempo.bpm_max) if tempo.bpm_max is not None else max(GAIT_MAX_BPM, bpm)
    base = AdaptiveSettings(AdaptiveMode(mode), min_bpm=low, max_bpm=high, beats_per_bar=tempo.meter.beats)
    return replace(base, **overrides)


class BeatClock(Protocol):
    """What listening needs of a metronome: `audio.engine.Metronome` is one; the app passes a view of
    whichever engine its metronome control runs at the moment (it rebuilds the engine on a device change).
    """

    @property
    def settings(self) -> TempoSettings: ...
    @property
    def origin(self) -> float | None: ...
    @property
    def tempo_map(self) -> TempoMap | None: ...
    def time_of(self, beat: Number) -> float | None: ...
    def beat_at(self, perf_time: float) -> Fraction | None: ...
    def set_tempo(self, bpm: Number) -> None: ...


class EventSink(Protocol):
    """Where listening results are logged: `LogTarget` writes to the record directly; the app's session
    screen passes one that goes through its writer thread, so blocks appear in the live log like taps."""

    def log(self, payload: Payload) -> Event:
        """Log one event, durable on return; StorageError when it is only pending."""
        ...


@dataclass(frozen=True)
class LogTarget:
    """Where listening results go in the record: a session, and the client/objective/plan they are about."""

    record: Record
    session_id: int
    client_id: int | None = None
    objective_id: int | None = None
    plan_id: str | None = None

    def log(self, payload: Payload) -> Event:
        """Log one event (durable on return; StorageError leaves it pending in the record)."""
        draft = EventDraft(
            payload, client_id=self.client_id, objective_id=self.objective_id, plan_id=self.plan_id
        )
        return self.record.events.log(self.session_id, draft)


@dataclass(frozen=True)
class BlockReport:
    """One block's figures, and what became of them in the record."""

    number: int
    """1, 2, ... over the whole SyncSession."""
    summary: SyncSummary
    final: bool
    """The unfinished block of a run that stopped."""
    event: Event | None
    """The logged Sync event, durable; None when it was not logged or is still pending."""
    note: str = ""
    """Why it is not saved yet (pending retry, not logged and why); "" when saved."""

    @property
    def saved(self) -> bool:
        return self.event is not None

    def describe(self) -> str:
        """One line for a log or a notification, e.g. "block 2 (16 beats at 90.0 bpm): 14/16 on the
        beat (87.5%), mean -21.3 ms, SD 12.0 ms, R 0.98, 1 missed, 0 extra: saved"."""
        s = self.summary
        on_beat = round(s.pct_on_beat * s.n_beats / 100)
        figures = [f"{on_beat}/{s.n_beats} on the beat ({s.pct_on_beat:.1f}%)"]
        if s.mean_asynchrony_ms is not None:
            figures.append(f"mean {s.mean_asynchrony_ms:+.1f} ms")
        if s.sd_asynchrony_ms is not None and s.resultant_length is not None:
            figures.append(f"SD {s.sd_asynchrony_ms:.1f} ms, R {s.resultant_length:.2f}")
        figures.append(f"{s.missed} missed, {s.extra} extra")
        kind = "last block" if self.final else "block"
        return (
            f"{kind} {self.number} ({s.n_beats} beats at {s.beat_bpm:.1f} bpm): {', '.join(figures)}: "
            f"{'saved' if self.saved else self.note}"
        )


@dataclass(frozen=True)
class ListeningState:
    """What the session screen shows about listening, read at any moment from `SyncSession.state`."""

    following: bool
    """A metronome run is being listened to."""
    block_number: int
    """The block being filled (1-based)."""
    pct_on_beat: float
    """Running % of the block's beats on the beat so far, as of the latest hit."""
    hits: int
    last_hit: HitFeedback | None
    blocks_saved: int
    last_block: BlockReport | None
    adaptive: AdaptiveState | None
    """None while adaptive tempo is off; when on it must always be shown."""
    problem: str
    """The latest thing that went wrong (a block not saved, a callback failing); "" when none."""


def sync_payload(summary: SyncSummary) -> Sync:
    """The record's Sync event for a block with at least two beats hit (every figure defined)."""
    mean, sd, r = summary.mean_asynchrony_ms, summary.sd_asynchrony_ms, summary.resultant_length
    if mean is None or sd is None or r is None:
        raise ValueError(f"a block needs {MIN_HITS_TO_LOG} beats hit to be logged ({summary.matched} were)")
    return Sync(
        mean_asynchrony_ms=mean,
        sd_ms=sd,
        r=min(1.0, r),
        pct_within=summary.pct_on_beat,
        n_hits=summary.n_hits,
        missed=summary.missed,
        extra=summary.extra,
        tempo_bpm=summary.beat_bpm,
        extra_fields=summary.as_dict(),
    )


@dataclass
class _Run:
    """One metronome run being listened to (from `start()` to `stop()` of the metronome)."""

    origin: float
    live: LiveSync
    first_open: int
    """The first beat not closed yet: the schedule is announced from here."""
    last_seen: float
    """The latest time the metronome was seen running: beats up to here have sounded."""
    engine_bpm: float | None = None
    """The engine's tempo at the last closed beat, to notice changes made by someone else."""


class SyncSession:
    """Listens to the client against a metronome: feedback per hit, a logged summary per block.

    Typical use (the app's session controller)::

        sync = SyncSession(metronome, SyncSettings(block_beats=16), target=LogTarget(record, session.id,
                           objective_id=objective.id), on_feedback=show_hit, on_block=show_block)
        with sync, MidiInput("drum", on_hit=sync.hit):
            ...                      # start/stop the metronome as often as the session needs
        sync.set_target(...)         # the objective changed: later blocks are logged against it

    Callbacks run on SyncSession's threads (`on_feedback` on the caller of `hit`, the others on the
    follower thread) and must be quick; an exception in one is logged and reported in `state.problem`.
    """

    def __init__(
        self,
        metronome: BeatClock,
        settings: SyncSettings | None = None,
        *,
        target: EventSink | None = None,
        on_feedback: Callable[[HitFeedback], None] | None = None,
        on_block: Callable[[BlockReport], None] | None = None,
        on_adaptive: Callable[[AdaptiveState], None] | None = None,
        tick_s: float = TICK_S,
    ) -> None:
        self.metronome = metronome
        self.settings = settings or SyncSettings()
        self._target = target
        self._on_feedback = on_feedback
        self._on_block = on_block
        self._on_adaptive = on_adaptive
        self._tick_s = tick_s
        self._adaptive = AdaptiveTempo(float(metronome.settings.bpm), self.settings.adaptive)
        self._requested_bpm: float | None = None
        self._run: _Run | None = None
        self._lock = threading.Lock()  # guards the counters and the latest results below
        self._blocks = 0
        self._blocks_saved = 0
        self._hits = 0
        self._last_hit: HitFeedback | None = None
        self._last_block: BlockReport | None = None
        self._problem = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- control ----------------------------------------------------------------------------------------

    def start(self) -> SyncSession:
        """Start following the metronome (whether it is running yet or not)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._follow, name="companion-listening", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> BlockReport | None:
        """Stop listening; the unfinished block is summarised and logged, and its report returned."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join()
            self._safe_tick()  # up to now: the beats since the last tick count too
        run, self._run = self._run, None
        return self._end_run(run) if run is not None else None

    def __enter__(self) -> SyncSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_target(self, target: EventSink | None) -> None:
        """Log the next blocks (including the one being filled) against this session/objective/plan."""
        self._target = target

    def set_adaptive(self, settings: AdaptiveSettings) -> None:
        """Switch adaptive tempo on, off or to other limits; it starts afresh from the current tempo."""
        self.settings = replace(self.settings, adaptive=settings)
        self._adaptive = AdaptiveTempo(self._current_bpm(), settings)

    @property
    def state(self) -> ListeningState:
        run = self._run
        adaptive = self._adaptive
        with self._lock:
            last_hit = self._last_hit
            pct = last_hit.pct_on_beat if last_hit is not None else 0.0
            return ListeningState(
                following=run is not None,
                block_number=self._blocks + 1,
                pct_on_beat=pct,
                hits=self._hits,
                last_hit=last_hit,
                blocks_saved=self._blocks_saved,
                last_block=self._last_block,
                adaptive=adaptive.state if adaptive.settings.mode is not AdaptiveMode.OFF else None,
                problem=self._problem,
            )

    # -- hits (any thread) ---------------------------------------------------------------------------

    def hit(self, hit: Hit) -> None:
        """Take one hit (pass this as MidiInput's `on_hit`); its feedback goes to `on_feedback`."""
        notes = self.settings.notes
        if notes is not None and hit.note not in notes:
            return
        run = self._run
        if run is not None:
            feedback = run.live.add_hit(hit.time_s)
        else:
            feedback = HitFeedback(hit.time_s, None, None, False, False, 0.0)
        with self._lock:
            self._hits += 1
            self._last_hit = feedback
        self._call(self._on_feedback, feedback)

    # -- the follower thread -------------------------------------------------------------------------

    def _follow(self) -> None:
        while not self._stop.wait(self._tick_s):
            self._safe_tick()

    def _safe_tick(self) -> None:
        try:
            self._tick(time.perf_counter())
        except Exception as exc:  # keep listening whatever one tick hit
            log.exception("listening: a tick failed")
            self._note_problem(f"listening hit an internal error ({exc!r}); it carries on")

    def _tick(self, now: float) -> None:
        origin = self.metronome.origin
        run = self._run
        if run is not None and origin != run.origin:
            self._run = None
            self._end_run(run)
            run = None
        if origin is None:
            return
        if run is None:
            run = self._begin_run(origin, now)
            if run is None:
                return
        if not self._announce(run, now):
            return
        run.last_seen = now
        closed = run.live.close_until(now)
        for outcome in closed.beats:
            run.first_open = outcome.index + 1
            self._adapt(run, outcome)
        for summary in closed.blocks:
            self._report(summary, final=False)

    def _begin_run(self, origin: float, now: float) -> _Run | None:
        """A new run: listen from beat 0, or from the next beat when joining a run already playing."""
        beat = self.metronome.beat_at(now)
        if beat is None:
            return None
        first = max(0, math.ceil(beat))
        live = LiveSync(self.settings.block_beats, self.settings.tolerance, grace_s=GRACE_S)
        self._run = run = _Run(origin, live, first, now)
        self._adaptive.set_tempo(self._current_bpm())
        return run

    def _announce(self, run: _Run, now: float) -> bool:
        """Give LiveSync the schedule from the first open beat to a second ahead; False if it stopped."""
        times: list[float] = []
        ahead = 0
        while ahead < 2 or times[-1] <= now + LOOK_AHEAD_S:
            t = self.metronome.time_of(run.first_open + len(times))
            if t is None:
                return False
            times.append(t)
            if t > now:
                ahead += 1
        run.live.set_beats(run.first_open, times)
        return True

    def _end_run(self, run: _Run) -> BlockReport | None:
        summary = run.live.finish(run.last_seen)
        return self._report(summary, final=True) if summary is not None else None

    def _current_bpm(self) -> float:
        tempo_map, beat = self.metronome.tempo_map, self.metronome.beat_at(time.perf_counter())
        if tempo_map is None or beat is None:
            return float(self.metronome.settings.bpm)
        return float(tempo_map.bpm_at(max(0, math.floor(beat))))

    # -- adaptive tempo ----------------------------------------------------------------------------------

    def _adapt(self, run: _Run, outcome: BeatOutcome) -> None:
        adaptive = self._adaptive
        if adaptive.settings.mode is AdaptiveMode.OFF:
            return
        tempo_map = self.metronome.tempo_map
        if tempo_map is None:
            return
        engine_bpm = float(tempo_map.bpm_at(outcome.index))
        changed = run.engine_bpm is not None and abs(engine_bpm - run.engine_bpm) > TEMPO_EPSILON_BPM
        ours = self._requested_bpm is not None and abs(engine_bpm - self._requested_bpm) <= TEMPO_EPSILON_BPM
        if changed and not ours:
            adaptive.set_tempo(engine_bpm)  # the therapist (or a ramp) set it: follow on from there
        run.engine_bpm = engine_bpm
        before = adaptive.tempo_bpm
        after = adaptive.observe(outcome)
        if abs(after - before) > TEMPO_EPSILON_BPM / 2:
            self._requested_bpm = round(after, 2)
            self.metronome.set_tempo(self._requested_bpm)
            self._log_tempo(self._requested_bpm)
        self._call(self._on_adaptive, adaptive.state)

    def _log_tempo(self, bpm: float) -> None:
        target = self._target
        if target is None:
            return
        meter = str(self.metronome.settings.meter)
        try:
            target.log(Tempo(bpm, meter, source="adaptive"))
        except StorageError as exc:
            self._note_problem(f"tempo change to {bpm:g} bpm is pending (kept and retried): {exc}")
        except (ValueError, UnknownRecord) as exc:
            self._note_problem(f"tempo change to {bpm:g} bpm not logged: {exc}")

    # -- blocks ------------------------------------------------------------------------------------------

    def _report(self, summary: SyncSummary, *, final: bool) -> BlockReport:
        with self._lock:
            self._blocks += 1
            number = self._blocks
        event, note, failed = self._log_block(summary)
        report = BlockReport(number, summary, final, event, note)
        with self._lock:
            self._last_block = report
            if event is not None:
                self._blocks_saved += 1
        if failed:
            self._note_problem(f"block {number}: {note}")
        self._call(self._on_block, report)
        return report

    def _log_block(self, summary: SyncSummary) -> tuple[Event | None, str, bool]:
        """The logged event (or None), why it is not saved, and whether that is a problem to show."""
        target = self._target
        if target is None:
            return None, "not logged: no session to log to", False
        if summary.matched < MIN_HITS_TO_LOG:
            hit = f"{summary.matched} of {summary.n_beats} beats hit"
            return None, f"not logged: {hit}, too few for timing figures", False
        try:
            return target.log(sync_payload(summary)), "", False
        except StorageError as exc:
            return None, f"pending (kept and retried with the next entry): {exc}", True
        except (ValueError, UnknownRecord) as exc:
            return None, f"not logged: {exc}", True

    # -- helpers -----------------------------------------------------------------------------------------

    def _note_problem(self, message: str) -> None:
        with self._lock:
            self._problem = message

    def _call(self, callback: Callable[[T], None] | None, value: T) -> None:
        if callback is None:
            return
        try:
            callback(value)
        except Exception as exc:
            log.exception("listening callback %r failed", callback)
            self._note_problem(f"the display could not take a listening update ({exc!r})")


class CadenceCapture:
    """Tap tempo from MIDI: the therapist taps every step of the client's walk on a pedal or pad.

    Feed it hits (`hit`, usable as MidiInput's `on_hit`) or tap times; `current()` gives the cadence so
    far for display, `measure()` the final one (or a CadenceError saying what to do), and `log` records
    it as a cadence event. `baseline_bpm` is RAS's starting tempo. Thread-safe.
    """

    def __init__(self, notes: frozenset[int] | None = None) -> None:
        self.notes = notes
        self._taps: list[float] = []
        self._lock = threading.Lock()

    def hit(self, hit: Hit) -> None:
        """Take a hit as a tap (pass this as MidiInput's `on_hit`); other notes than `notes` are ignored."""
        if self.notes is None or hit.note in self.notes:
            self.add_tap(hit.time_s)

    def add_tap(self, time_s: float) -> int:
        """Add a tap (engine-clock seconds); returns the taps so far."""
        with self._lock:
            self._taps.append(time_s)
            return len(self._taps)

    @property
    def taps(self) -> tuple[float, ...]:
        with self._lock:
            return tuple(self._taps)

    def clear(self) -> None:
        with self._lock:
            self._taps.clear()

    def measure(self) -> MeasuredCadence:
        """The cadence of the taps so far; CadenceError (why, what to do) when they cannot give one."""
        return cadence(self.taps)

    def current(self) -> MeasuredCadence | None:
        """The cadence so far for a live display; None until the taps give one."""
        try:
            return self.measure()
        except CadenceError:
            return None

    def baseline_bpm(self) -> float:
        """The metronome tempo matching the cadence (0.1 bpm): where RAS starts."""
        return round(self.measure().steps_per_min, 1)

    def log(self, target: LogTarget) -> Event:
        """Record the measured cadence (raises CadenceError, or StorageError leaving it pending)."""
        measured = self.measure()
        return target.log(Cadence(measured.steps_per_min, measured.cv, measured.steps))
