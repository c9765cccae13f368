"""Listening to the client from the session screen: the MIDI input, a `SyncSession` over the app's
metronome, where its blocks are logged, and what the live feedback strip shows. No Textual here.

Why a separate layer: the session screen only draws and forwards keys. The rules live here: a hit while
the metronome plays is matched to its beat, a hit while it is stopped is a cadence step (the therapist's
pedal during a timed walk); blocks are logged through the session's one writer thread, so they are in
order with the taps, against the objective (and client) selected when the block ends, and shown in the
live log once durable; adaptive tempo keeps the plan's range and is always described while on.

Threads: `start` and `stop` may block (opening a port starts a JACK helper; the last block is written),
so the screen calls them from a worker. Every callback here runs on a MIDI or listening thread and must
only post a message to the UI (`changed`, `on_block`, `on_step` never block).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import mido

from audio.cadence import AdaptiveMode, AdaptiveSettings, AdaptiveState
from audio.live_sync import HitFeedback
from audio.midi_hits import Hit, MidiInputError, input_backend
from audio.midi_input import MidiInput
from audio.sync_analysis import Tolerance
from audio.tempo import Number, TempoSettings
from audio.tempo_map import TempoMap
from companion.live.listening import SyncSession, SyncSettings, adaptive_settings
from companion.live.listening_record import MIN_HITS_TO_LOG, BlockReport
from companion.record import Event, EventDraft, Payload, StorageError

if TYPE_CHECKING:
    from audio.engine_client import RemoteMetronome
    from companion.live.metronome_control import MetronomeControl
    from companion.live.session_controller import LiveSession, Update

RECENT_HITS = 12
"""Hits the strip keeps on screen: about three bars, enough to see a trend, few enough to read."""
SPAN_WINDOWS = 3
"""The strip spans three on-beat windows either side of the beat, so the window sits in its middle."""
ADAPTIVE_ORDER = (AdaptiveMode.OFF, AdaptiveMode.FOLLOW, AdaptiveMode.ENTRAIN)
NO_INPUT = (
    "no MIDI input found: plug in the client's drum pad or keyboard (or start its program), then press "
    "S to choose it; the session carries on without listening"
)


def midi_inputs(backend: str | None = None, exclude: Sequence[str] = ()) -> list[str]:
    """The MIDI inputs a client's instrument could be on (not Companion's own ports, named in `exclude`).

    Raises MidiInputError with the cause and the fix when the MIDI system cannot be asked or has none."""
    try:
        names = mido.Backend(input_backend(backend)).get_input_names()
    except (OSError, ValueError, ImportError) as exc:  # rtmidi: OSError; mido: an API not compiled in
        raise MidiInputError(
            f"the MIDI inputs cannot be listed ({exc}): check that the MIDI system (ALSA or JACK) is "
            "running and MIDO_BACKEND names it"
        ) from exc
    found = [name for name in names if not any(own and own in name for own in exclude)]
    if not found:
        raise MidiInputError(NO_INPUT)
    return found


class AppBeatClock:
    """The app's metronome as listening sees it (`companion.live.listening.BeatClock`): whichever engine the
    control runs now, and tempo changes through the control so its panel and settings follow them."""

    def __init__(self, control: MetronomeControl) -> None:
        self._control = control

    def _engine(self) -> RemoteMetronome | None:
        return self._control.engine

    @property
    def settings(self) -> TempoSettings:
        return self._control.settings

    @property
    def origin(self) -> float | None:
        engine = self._engine()
        return engine.origin if engine is not None else None

    @property
    def tempo_map(self) -> TempoMap | None:
        engine = self._engine()
        return engine.tempo_map if engine is not None else None

    def time_of(self, beat: Number) -> float | None:
        engine = self._engine()
        return engine.time_of(beat) if engine is not None else None

    def beat_at(self, perf_time: float) -> Fraction | None:
        engine = self._engine()
        return engine.beat_at(perf_time) if engine is not None else None

    def set_tempo(self, bpm: Number) -> None:
        self._control.set_bpm(bpm)


class SessionSink:
    """Logs listening results as the live session logs a tap: on its writer thread, after any tempo
    marker due, against the client and objective selected now, shown in the live log by the screen.

    `submit` queues work on the session's writer and returns its future (the screen's `submit`). `log`
    waits for it, so a block is reported saved only once durable; a refused write raises StorageError
    while the session keeps the entry pending and retries it."""

    def __init__(self, live: LiveSession, submit: Callable[[Callable[[], Update]], Future[Update]]) -> None:
        self._live = live
        self._submit = submit

    def draft(self, payload: Payload) -> EventDraft:
        live = self._live
        objective = live.objective
        return EventDraft(
            payload,
            client_id=live.client.id,
            objective_id=objective.id if objective is not None else None,
            plan_id=live.plan.id if live.plan is not None else None,
        )

    def log(self, payload: Payload) -> Event:
        draft = self.draft(payload)
        update = self._submit(lambda: self._live.commit(draft)).result()
        entry = next(e for e in reversed(update.entries) if e.event.payload == payload)
        if not entry.saved:
            raise StorageError(self._live.record.path, entry.problem)
        return entry.event


@dataclass(frozen=True)
class Mark:
    """One hit on the strip."""

    asynchrony_ms: float
    on_beat: bool
    extra: bool


@dataclass(frozen=True)
class StripView:
    """Everything the live feedback strip draws, as plain values (the widget decides only layout)."""

    visible: bool
    listening: bool
    marks: tuple[Mark, ...]
    """Recent hits matched to a beat, oldest first."""
    window_ms: float
    """Half-width of the on-beat window at the current tempo."""
    span_ms: float
    """Half-width of the strip: a hit beyond it is drawn at the edge."""
    headline: str
    last_hit: str
    last_block: str
    adaptive: str
    """"" while adaptive tempo is off; otherwise mode, limits and the tempo it set (always shown)."""
    problem: str


def window_ms(tolerance: Tolerance, bpm: float) -> float:
    """The on-beat window's half-width in ms at `bpm` (a fraction-of-interval window scales with it)."""
    return float(tolerance.seconds(60.0 / bpm)) * 1000.0


def describe_hit(feedback: HitFeedback) -> str:
    if feedback.asynchrony_ms is None:
        return "last hit: no beat near it"
    ms = feedback.asynchrony_ms
    side = "early" if ms < 0 else "late"
    verdict = "extra" if feedback.extra else "on beat" if feedback.on_beat else "off beat"
    return f"last hit {abs(ms):.0f} ms {side} ({verdict})"


def describe_adaptive(settings: AdaptiveSettings, state: AdaptiveState | None, listening: bool) -> str:
    """E.g. "adaptive follow 60-126 bpm · set 123.0 · following the client at 135.2 bpm: ..."."""
    if settings.mode is AdaptiveMode.OFF:
        return ""
    line = f"adaptive {settings.mode.value} {settings.min_bpm:g}-{settings.max_bpm:g} bpm"
    if settings.mode is AdaptiveMode.ENTRAIN:
        line += f" (+{settings.step_percent:g}% at R ≥ {settings.r_threshold:g})"
    if not listening:
        return f"{line} · acts while listening (s)"
    if state is None:
        return f"{line} · listening"
    return f"{line} · set {state.tempo_bpm:.1f} bpm · {state.reason}"


class ListeningControl:
    """One session's listening: choose an input, start/stop, adaptive tempo, and the strip's view.

    `changed()` is called (from any thread) whenever the view may have changed; `on_not_saved` with the
    report of a block that has figures but did not reach the disk (pending or refused: the therapist must
    hear of it; a block the client did not play is only shown in the strip); `on_step(time_s)` with each
    hit while the metronome is stopped (a cadence step)."""

    def __init__(
        self,
        metronome: MetronomeControl,
        sink: SessionSink,
        *,
        changed: Callable[[], object],
        on_not_saved: Callable[[BlockReport], object],
        on_step: Callable[[float], object],
        backend: str | None = None,
        client_name: str = "Companion listen",
        settings: SyncSettings | None = None,
    ) -> None:
        self.metronome = metronome
        self.sink = sink
        self.backend = backend
        self.client_name = client_name
        self.settings = settings or SyncSettings()
        self.port: str | None = None
        self.adaptive_mode = AdaptiveMode.OFF
        self._changed = changed
        self._on_not_saved = on_not_saved
        self._on_step = on_step
        self._clock = AppBeatClock(metronome)
        self._sync: SyncSession | None = None
        self._input: MidiInput | None = None
        self._recent: deque[HitFeedback] = deque(maxlen=RECENT_HITS)
        self._lock = threading.Lock()
        self._status = ""

    # -- inputs ----------------------------------------------------------------------------------------
    def inputs(self) -> list[str]:
        """The inputs to choose from, without the metronome's own MIDI port (MidiInputError: none)."""
        return midi_inputs(self.backend, exclude=[self.metronome.midi_virtual, self.client_name])

    @property
    def listening(self) -> bool:
        return self._sync is not None

    # -- start / stop (blocking: call from a worker) --------------------------------------------------
    def start(self, port: str) -> str:
        """Listen to `port`; returns what to tell the therapist. MidiInputError says why it cannot."""
        self.stop()
        sync = SyncSession(
            self._clock,
            self._sync_settings(),
            target=self.sink,
            on_feedback=self._feedback,
            on_block=self._block,
            on_adaptive=self._adapted,
        )
        midi = MidiInput(
            port, backend=self.backend, client_name=self.client_name, on_hit=self._hit, on_status=self._note
        )
        midi.open()
        self.port, self._status = port, ""
        with self._lock:
            self._recent.clear()
        self._sync, self._input = sync.start(), midi
        self._changed()
        metronome = "hits are matched to the beat" if self.metronome.running else "space starts the metronome"
        return f"Listening to {midi.name} ({midi.timing}): {metronome}; s stops listening."

    def stop(self) -> BlockReport | None:
        """Stop listening: the port closes, the unfinished block is logged and its report returned."""
        sync, midi = self._sync, self._input
        self._sync = self._input = None
        if midi is not None:
            midi.close()
        report = sync.stop() if sync is not None else None
        if sync is not None:
            self._changed()
        return report

    # -- adaptive tempo --------------------------------------------------------------------------------
    def adaptive(self) -> AdaptiveSettings:
        """Adaptive tempo as it would run now: the chosen mode within the metronome's (plan's) range."""
        return adaptive_settings(self.metronome.settings, self.adaptive_mode)

    def set_adaptive(self, mode: AdaptiveMode) -> AdaptiveSettings:
        """Switch adaptive tempo (off by default); it starts afresh from the tempo playing now."""
        self.adaptive_mode = mode
        settings = self.adaptive()
        sync = self._sync
        if sync is not None:
            sync.set_adaptive(settings)
        self._changed()
        return settings

    def next_adaptive(self) -> AdaptiveSettings:
        """off -> follow -> entrain -> off: one key cycles through the modes."""
        index = ADAPTIVE_ORDER.index(self.adaptive_mode)
        return self.set_adaptive(ADAPTIVE_ORDER[(index + 1) % len(ADAPTIVE_ORDER)])

    def _sync_settings(self) -> SyncSettings:
        return SyncSettings(
            block_beats=self.settings.block_beats,
            tolerance=self.settings.tolerance,
            notes=self.settings.notes,
            adaptive=self.adaptive(),
        )

    # -- what the strip shows --------------------------------------------------------------------------
    def view(self) -> StripView:
        sync = self._sync
        state = sync.state if sync is not None else None
        adaptive = self.adaptive()
        with self._lock:
            recent = [f for f in self._recent if f.asynchrony_ms is not None]
            last = self._recent[-1] if self._recent else None
        window = window_ms(self.settings.tolerance, float(self.metronome.current_bpm()))
        marks = tuple(Mark(f.asynchrony_ms or 0.0, f.on_beat, f.extra) for f in recent)
        if state is None:
            headline = f"not listening · s listens to {self.port}" if self.port else "not listening"
        else:
            headline = (
                f"{self.port} · block {state.block_number} · {state.hits} hits · "
                f"{state.pct_on_beat:.0f}% on beat · window {self.settings.tolerance.describe()}"
            )
        return StripView(
            visible=state is not None or adaptive.mode is not AdaptiveMode.OFF,
            listening=state is not None,
            marks=marks,
            window_ms=window,
            span_ms=window * SPAN_WINDOWS,
            headline=headline,
            last_hit=describe_hit(last) if last is not None else "",
            last_block=state.last_block.describe() if state is not None and state.last_block else "",
            adaptive=describe_adaptive(adaptive, state.adaptive if state else None, state is not None),
            problem=(state.problem if state is not None else "") or self._status,
        )

    # -- callbacks (MIDI and listening threads) ---------------------------------------------------------
    def _hit(self, hit: Hit) -> None:
        sync = self._sync
        if not self.metronome.running:
            self._on_step(hit.time_s)
        elif sync is not None:
            sync.hit(hit)

    def _feedback(self, feedback: HitFeedback) -> None:
        with self._lock:
            self._recent.append(feedback)
        self._changed()

    def _block(self, report: BlockReport) -> None:
        if not report.saved and report.summary.matched >= MIN_HITS_TO_LOG:
            self._on_not_saved(report)
        self._changed()

    def _adapted(self, _: AdaptiveState) -> None:
        self._changed()

    def _note(self, message: str) -> None:
        """The input was lost (shown until it is back) or is back (said once, by `changed`)."""
        midi = self._input
        self._status = "" if midi is not None and midi.connected else message
        self._changed()
