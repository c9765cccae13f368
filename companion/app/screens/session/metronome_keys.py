"""The metronome keys of the live session: start/stop, the tempo (nudged, typed, tapped or from the plan's
preset), the RAS stages that follow a measured cadence, the settings, and reconnecting the outputs.

The engine's dispatcher thread only posts messages here; the metronome panel redraws from the
`MetronomeChanged` messages this part posts after every change, and the tempo in force is logged before
the next tap, or once it has settled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.timer import Timer

from audio.cadence import AdaptiveMode
from audio.engine_events import BeatEvent, EngineEvent, OutputProblem
from audio.engine_process import ENGINE
from audio.tempo import TempoError, check_bpm
from companion.app.screens.dialogs import TextPrompt
from companion.app.screens.metronome_settings import MetronomeChoice, MetronomeSettings
from companion.app.screens.session.core import SessionCore
from companion.app.widgets.beat_light import Beat, BeatLight
from companion.app.widgets.metronome_panel import MetronomeChanged, MetronomePanel, MetronomeSays
from companion.live.cadence_taps import CadenceTaps, GaitPreset, RasStages
from companion.live.metronome_state import MetronomeState, PresetLoaded
from companion.live.metronome_transport import OutputsInUse
from companion.live.session_controller import LiveSession

TEMPO_SETTLE_S = 1.5


class MetronomeEvent(Message):
    """Something the engine said that the screen reacts to: a tempo step of a ramp, a device problem."""

    def __init__(
        self, bpm: float | None = None, meter: str = "", problem: OutputProblem | None = None
    ) -> None:
        super().__init__()
        self.bpm = bpm
        self.meter = meter
        self.problem = problem


class MetronomeStarted(Message):
    def __init__(self, state: MetronomeState | None, error: BaseException | None) -> None:
        super().__init__()
        self.state = state
        self.error = error


class MidiStep(Message):
    """A hit on the MIDI input while the metronome is stopped: one step of a cadence (tap tempo)."""

    def __init__(self, time_s: float) -> None:
        super().__init__()
        self.time_s = time_s


class MetronomeKeys(SessionCore):
    """The metronome and its tempo, by key or by the panel's buttons."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "metronome", "Metronome", tooltip="Metronome start/stop"),
        Binding("up", "nudge(1)", "Tempo +1", show=False),
        Binding("down", "nudge(-1)", "Tempo -1", show=False),
        Binding("shift+up", "nudge(5)", "Tempo +5", show=False),
        Binding("shift+down", "nudge(-5)", "Tempo -5", show=False),
        Binding("b", "enter_bpm", "Type a tempo (bpm)", show=False),
        Binding("t", "tap_tempo", "Tap tempo / cadence", show=False, tooltip="Tap each step; pause to apply"),
        Binding("x", "ras_next_stage", "Next RAS stage", show=False, tooltip="After a cadence: next stage"),
        Binding("p", "load_preset", "Load the plan's tempo preset", show=False),
        Binding("m", "metronome_settings", "Metronome settings", show=False),
    ]

    def __init__(self, live: LiveSession) -> None:
        super().__init__(live)
        self._forget_listener: Callable[[], None] | None = None
        self._settle_timer: Timer | None = None
        self._bar_bpm: float | None = None
        self.taps = CadenceTaps()
        self._taps_done: Timer | None = None
        self.ras: RasStages | None = None  # the RAS ramp from the last measured cadence

    def _follow_engine(self) -> None:
        """Listen to the engine from now on (until `_forget_engine`), and show where the metronome is."""
        self._light = self.query_one(BeatLight)  # the dispatcher thread posts to it, never queries the DOM
        self._panel = self.query_one(MetronomePanel)
        self._forget_listener = self.metronome.add_listener(self._engine_event)
        self._metronome_changed()

    def _forget_engine(self) -> None:
        if self._forget_listener is not None:
            self._forget_listener()

    def _metronome_changed(self, playing_bpm: float | None = None) -> None:
        """The metronome's state changed: the panel redraws from the state posted to it."""
        self._panel.post_message(MetronomeChanged(self.metronome.state(), playing_bpm))

    def _engine_event(self, event: EngineEvent) -> None:
        """From the engine's dispatcher thread: only post messages (thread-safe), never touch widgets."""
        if isinstance(event, BeatEvent):
            self._light.post_message(Beat(event))
            if event.beat == 0 and event.sub == 0 and not event.count_in:
                self.post_message(MetronomeEvent(bpm=float(event.bpm)))
        elif isinstance(event, OutputProblem):
            self.post_message(MetronomeEvent(problem=event))

    @on(MetronomeEvent)
    def _metronome_event(self, message: MetronomeEvent) -> None:
        if message.problem is not None:
            problem = message.problem
            engine = problem.output == ENGINE
            if problem.recovered:
                self.notify(problem.message, title="Timing engine back" if engine else "Output back")
            else:
                self.notify(
                    problem.message,
                    title="Timing engine stopped (your entries are safe)"
                    if engine
                    else f"{problem.output} output unavailable (the beat light keeps time)",
                    severity="error",
                    timeout=10,
                )
            self._metronome_changed()
        elif message.bpm is not None and message.bpm != self._bar_bpm:
            self._bar_bpm = message.bpm  # a ramp moved the tempo: the next taps were at this tempo
            self._metronome_changed(message.bpm)
            self._tempo_changed(message.bpm)
        elif message.bpm is not None:
            self._metronome_changed(message.bpm)  # a bar line: the song's bar, a fade's end

    def _tempo_changed(self, bpm: float | None = None, at_once: bool = False) -> None:
        """The tempo in force changed: logged before the next tap, or once it settled (1.5 s)."""
        if not self.metronome.running:
            return
        settings = self.metronome.settings
        self.live.note_tempo(bpm if bpm is not None else float(settings.bpm), str(settings.meter))
        if self._settle_timer is not None:
            self._settle_timer.stop()
        if at_once:
            self.submit(self.live.settle_tempo)
        else:
            self._settle_timer = self.set_timer(TEMPO_SETTLE_S, lambda: self.submit(self.live.settle_tempo))

    def action_metronome(self) -> None:
        metronome = self.metronome
        if metronome.running:
            metronome.stop()
            self._metronome_changed()
            return

        def start() -> None:
            try:
                state = metronome.start()
            except Exception as error:  # shown to the therapist; the session carries on without a click
                self.post_message(MetronomeStarted(None, error))
                return
            self.post_message(MetronomeStarted(state, None))

        self.run_worker(start, thread=True, exclusive=True, group="metronome")

    @on(MetronomeStarted)
    def _metronome_started(self, message: MetronomeStarted) -> None:
        if isinstance(message.error, OutputsInUse):
            told = str(message.error)  # who plays, and what to do; the quick taps are unaffected
            self._panel.post_message(MetronomeSays(told))
            self.notify(told, title="Another session is playing", severity="warning", timeout=15)
            return
        if message.error is not None or message.state is None:
            self.notify(str(message.error), title="The metronome could not start", severity="error")
            return
        self._bar_bpm = message.state.bpm
        self._cued = True
        self._metronome_changed()
        self._tempo_changed(at_once=True)

    def _apply(self, change: Callable[[], object], success: str = "") -> None:
        """Run a tempo change; the tempo model's message is shown if the value cannot be played."""
        try:
            change()
        except (TempoError, ValueError) as problem:
            self.notify(str(problem), title="Tempo not changed", severity="warning")
            return
        self._bar_bpm = None
        self._metronome_changed()
        self._tempo_changed()
        if success:
            self.notify(success, timeout=4)

    def action_nudge(self, delta: int) -> None:
        self._apply(lambda: self.metronome.nudge(delta))

    def action_enter_bpm(self) -> None:
        def check(text: str) -> str | None:
            try:
                check_bpm(text)
            except TempoError as problem:
                return str(problem)
            return None

        def entered(text: str | None) -> None:
            if text:
                self._apply(lambda: self.metronome.set_bpm(text))

        self.app.push_screen(
            TextPrompt("Tempo (bpm)", "e.g. 84", accept="Set", check=check, restrict=r"[0-9.]*"), entered
        )

    def action_load_preset(self) -> None:
        plan = self.live.plan
        if plan is None or plan.tempo is None:
            self.notify(
                "The current intervention has no tempo preset (choose one with i).", severity="warning"
            )
            return
        preset, songs = plan.tempo, self.live.client.preferred_songs
        loaded: list[PresetLoaded] = []
        then = "" if self.metronome.running else " Space starts."
        if self.live.records_cadence:  # gait work: the client's own cadence, stages by x
            last = self.live.last_cadence()
            gait = GaitPreset.from_cadence(preset, last.steps_per_min if last is not None else None)
            self._apply(
                lambda: loaded.append(self.metronome.load_preset(gait.values, songs)),
                f"Loaded {plan.title}: {gait.bpm:g} bpm {gait.note}.{then}",
            )
            if loaded:
                self.ras = gait.stages
        else:
            self._apply(
                lambda: loaded.append(self.metronome.load_preset(preset.as_engine_kwargs(), songs)),
                f"Loaded {plan.title}: {preset.summary()}.{then}",
            )
        for message in loaded[0].messages if loaded else ():
            self.notify(message, title="Cue", severity="warning", timeout=10)
        if loaded and preset.adaptive != AdaptiveMode.OFF:  # asked by the plan (never switched off by one)
            self.listening.set_adaptive(AdaptiveMode(preset.adaptive))
            self.notify(self.listening.view().adaptive, title="Adaptive tempo on (the plan's)", timeout=6)

    def action_metronome_settings(self) -> None:
        def chosen(choice: MetronomeChoice | None) -> None:
            if choice is None:
                return
            self.metronome.set_output(choice.output, choice.latency)
            self._apply(lambda: self.metronome.change(choice.settings))

        metronome = self.metronome
        self.app.push_screen(
            MetronomeSettings(metronome.settings, metronome.output, metronome.audio_latency), chosen
        )

    # -- tap tempo and RAS ---------------------------------------------------------------------------
    def action_tap_tempo(self) -> None:
        """Each tap is a step; after a pause the cadence becomes the tempo and is logged (RAS baseline)."""
        self._step(time.perf_counter())

    @on(MidiStep)
    def _midi_step(self, message: MidiStep) -> None:
        self._step(message.time_s)

    def _step(self, at: float) -> None:
        reading = self.taps.tap(at)
        self._panel.post_message(MetronomeSays(reading.describe()))
        if self._taps_done is not None:
            self._taps_done.stop()
        self._taps_done = self.set_timer(self.taps.pause_s, self._taps_finished)

    def _taps_finished(self) -> None:
        reading = self.taps.finish()
        found = reading.cadence
        if found is None:
            self.notify(
                reading.problem or reading.describe(), title="No cadence from these taps", severity="warning"
            )
            self._metronome_changed()
            return
        spm = round(found.steps_per_min, 1)
        if not self.live.records_cadence:  # a drum session: the taps set a tempo, they are not steps
            self._apply(
                lambda: self.metronome.set_bpm(spm),
                f"Tempo {spm:g} bpm from {found.steps} taps. This plan takes no gait cadence, so none is "
                "logged; the tempo is, as it plays.",
            )
            return
        condition = self._cadence_condition()
        self.tap(self.live.draft_cadence(found.steps_per_min, found.cv, found.steps, condition))
        plan = self.live.plan
        self.ras = RasStages.from_baseline(spm, plan.tempo if plan is not None else None)
        self._apply(
            lambda: self.metronome.set_bpm(spm),
            f"Cadence {spm:g} steps/min {condition} (CV {found.cv * 100:.1f}%, {found.steps} steps): logged, "
            f"tempo set to {spm:g} bpm. u undoes the entry. {self.ras.describe()}; x: next stage.",
        )

    def action_ras_next_stage(self) -> None:
        """One stage up the RAS ramp that follows from the last measured cadence."""
        if self.ras is None:
            self.notify("Measure the client's cadence first: tap t on each step, then pause.")
            return
        if self.ras.last:
            self.notify(f"{self.ras.describe()}: this is the last stage.", timeout=5)
            return
        self.ras = ras = self.ras.advanced()
        self._apply(lambda: self.metronome.set_bpm(ras.bpm), ras.describe())


class OutputKeys(SessionCore):
    """Reconnecting the audio and MIDI outputs after a device came back (its key is listed after the
    cues')."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "reconnect", "Reconnect audio/MIDI", show=False),
    ]

    def action_reconnect(self) -> None:
        self.run_worker(self._reconnect, thread=True, exclusive=True, group="metronome")

    def _reconnect(self) -> None:
        state = self.metronome.reconnect()
        self.post_message(MetronomeStarted(state, None) if state.running else MetronomeEvent())
