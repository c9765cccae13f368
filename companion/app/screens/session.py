"""The live session screen: the plan, the quick-tap pad, running tallies, the live log and the metronome.

Mid-session the therapist has one hand on an instrument, so every action is one key or one touch and
undo is always one key away. A tap is drafted here (capturing the client and objective selected at that
moment), written by the session's one writer thread, and shown only once `record.events.log` has returned: the
log never shows an entry that is not on disk, except as "pending" (kept in memory, retried every few
seconds, and flagged above the log with the cause and the fix).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Footer, Header, Static

from audio.cadence import AdaptiveMode
from audio.cues import CLICK
from audio.engine_client import ENGINE
from audio.events import BeatEvent, EngineEvent, OutputProblem
from audio.midi_input import MidiInputError
from audio.song import TimeSignature
from audio.tempo import TempoError, check_bpm
from companion.app.screens.base import CompanionScreen
from companion.app.screens.cue_picker import CuePicker
from companion.app.screens.dialogs import Confirm, FieldsPrompt, Pick, TextPrompt
from companion.app.screens.measure import MeasureDialog, MeasureResult
from companion.app.screens.metronome_settings import MetronomeChoice, MetronomeSettings
from companion.app.screens.rating import RatingDialog, RatingResult
from companion.app.screens.sampling import QUESTIONS, SampleDialog, SamplingPlan
from companion.app.screens.walk import WalkDialog, WalkResult
from companion.app.widgets.beat_light import Beat, BeatLight
from companion.app.widgets.client_bar import ClientBar
from companion.app.widgets.event_log import EventLog
from companion.app.widgets.metronome_panel import MetronomePanel
from companion.app.widgets.plan_view import PlanView
from companion.app.widgets.sync_strip import SyncStrip
from companion.app.widgets.tallies import ObjectiveBar, TallyList
from companion.app.widgets.tap_pad import TapPad
from companion.live.cue_choices import CueChoice, cue_choices
from companion.live.listening import BlockReport
from companion.live.listening_control import ListeningControl, SessionSink
from companion.live.metronome_control import MetronomeControl, MetronomeState, OutputsInUse, PresetLoaded
from companion.live.session_controller import LiveSession, TapWriter, Update
from companion.live.tap_tempo import GaitPreset, RasStages, TapSeries, cadence_condition
from companion.live.wall_clock import clock_text
from companion.record import EventDraft, Measure, Sample, Session, StorageError
from interventions import DataKind

RETRY_EVERY_S = 3.0
TEMPO_SETTLE_S = 1.5
PROMPTED = Binding.Group("Correct with a prompt: the level's number (as on the pad)", compact=True)
PROMPTED_MISS = Binding.Group("Incorrect with a prompt: shift (⇧) + the level's number", compact=True)
SHIFTED_DIGITS = (
    *("at", "number_sign", "dollar_sign", "percent_sign"),
    *("circumflex_accent", "ampersand", "asterisk", "left_parenthesis"),
)
"""What shift + 2..9 types (US layout), so "shift+3" is "incorrect, third level" as 3 is "correct"."""


class Written(Message):
    """The writer thread finished one piece of disk work (posted from that thread)."""

    def __init__(self, update: Update | None, error: BaseException | None) -> None:
        super().__init__()
        self.update = update
        self.error = error


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


class ListeningChanged(Message):
    """Listening has news for the strip (posted from a MIDI or listening thread; never blocks them)."""


class ListeningDone(Message):
    """Listening started or stopped in a worker: what to tell the therapist, or why it could not."""

    def __init__(self, text: str, error: str = "") -> None:
        super().__init__()
        self.text = text
        self.error = error


class MidiStep(Message):
    """A hit on the MIDI input while the metronome is stopped: one step of a cadence (tap tempo)."""

    def __init__(self, time_s: float) -> None:
        super().__init__()
        self.time_s = time_s


class SessionEnded(Message):
    def __init__(self, session: Session | None, error: BaseException | None) -> None:
        super().__init__()
        self.session = session
        self.error = error


class LiveSessionScreen(CompanionScreen):
    """Take data during a session: one key per tap, the log and tallies update as soon as it is saved."""

    HELP_TITLE = "live session"
    AUTO_FOCUS = ""  # nothing holds focus: every key reaches the screen's bindings
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "plus,equals_sign", "trial(True, 0)", "Correct", tooltip="Correct, independent (first level)"
        ),
        Binding("minus", "trial(False, 0)", "Incorrect", key_display="-"),
        *(
            Binding(str(n), f"trial(True, {n - 1})", f"Correct, prompt level {n}", show=False, group=PROMPTED)
            for n in range(2, 10)
        ),
        *(
            Binding(
                key,
                f"trial(False, {n - 1})",
                f"Incorrect, prompt level {n}",
                show=False,
                group=PROMPTED_MISS,
                key_display=f"⇧{n}",
            )
            for n, key in enumerate(SHIFTED_DIGITS, start=2)
        ),
        Binding("underscore", "pick_prompted_miss", "Incorrect with a prompt…", show=False, key_display="_"),
        Binding("0", "trial(False, 0, 'no response')", "No response (NR)", show=False),
        Binding("right_parenthesis", "trial(False, 0, 'refused')", "Refused", show=False, key_display="⇧0"),
        Binding("o", "pick_objective", "Objective"),
        Binding("right_square_bracket", "cycle_objective(1)", "Next objective", show=False, key_display="]"),
        Binding(
            "left_square_bracket", "cycle_objective(-1)", "Previous objective", show=False, key_display="["
        ),
        Binding("c", "count", "Count +1", show=False),
        Binding("d", "duration", "Duration start/stop", show=False),
        Binding("l", "latency", "Latency: cue, then response", show=False),
        Binding("I", "sampling", "Time sampling start/stop (one touch per client each interval)", show=False),
        Binding("w", "observe", "Observe the objective start/stop (counts per minute observed)", show=False),
        Binding("r", "rating", "Rating", show=False),
        Binding("M", "measure", "Measure (a number with its unit)", show=False, key_display="M"),
        Binding("W", "walk", "Timed walk: start line, then finish (velocity, cadence, stride)", show=False),
        Binding("n", "note", "Note"),
        Binding("B", "abc", "ABC entry (antecedent, behaviour, consequence)", show=False, key_display="B"),
        Binding("u,ctrl+z", "undo", "Undo"),
        Binding("g", "next_client(1)", "Group: next client", show=False),
        Binding("G", "next_client(-1)", "Group: previous client", show=False, key_display="G"),
        Binding("i", "switch_plan", "Intervention", show=False),
        Binding(
            "v",
            "toggle_plan",
            "Show/hide plan",
            show=False,
            tooltip="Show/hide the plan (in place of the pad when narrow)",
        ),
        Binding("e", "end", "End", tooltip="End the session and write the note"),
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
        Binding(
            "k", "toggle_music", "Music cue on/off", show=False, tooltip="The plan's groove or song on/off"
        ),
        Binding(
            "K",
            "pick_cue",
            "Song or groove…",
            show=False,
            key_display="K",
            tooltip="Choose the cue: the client's songs first",
        ),
        Binding(
            "f",
            "fade_click",
            "Fade the click out/in",
            show=False,
            tooltip="Fade the click out over two bars (carry-over), again: back in",
        ),
        Binding("F", "fade_music", "Fade the music out/in", show=False, key_display="F"),
        Binding("greater_than_sign,full_stop", "intensity(1)", "Groove fuller", show=False, key_display=">"),
        Binding("less_than_sign,comma", "intensity(-1)", "Groove softer", show=False, key_display="<"),
        Binding(
            "L",
            "mark_loop",
            "Loop A-B",
            show=False,
            key_display="L",
            tooltip="Loop A-B: mark bar A, then bar B; again ends it",
        ),
        Binding("j", "seek", "Go to bar…", show=False, tooltip="Jump to a bar of the song (at the bar line)"),
        Binding("ctrl+r", "reconnect", "Reconnect audio/MIDI", show=False),
        # listening to the client on a MIDI drum or keyboard (issue 6)
        Binding("s", "listen", "Listen to the client (MIDI) start/stop", show=False),
        Binding("S", "choose_input", "Choose the MIDI input to listen to", show=False, key_display="S"),
        Binding(
            "a",
            "adaptive",
            "Adaptive tempo: off/follow/entrain",
            show=False,
            tooltip="Adaptive tempo (off by default): follow the client, or step up once entrained",
        ),
    ]

    def __init__(self, live: LiveSession) -> None:
        super().__init__()
        self.live = live
        self.writer = TapWriter()
        self.problem: str | None = None
        self._forget_listener: Callable[[], None] | None = None
        self._settle_timer: Timer | None = None
        self._bar_bpm: float | None = None
        self.taps = TapSeries()
        self._taps_done: Timer | None = None
        self.ras: RasStages | None = None  # the RAS ramp from the last measured cadence
        self._cued = False  # the metronome has played this session: later uncued cadences are carry-over
        self._sampling: SamplingPlan | None = None
        self._sampling_timer: Timer | None = None
        self._samples_taken = 0

    # -- layout --------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="session-body"):
            yield PlanView(
                self.live.plan,
                empty="No intervention chosen. Press i to choose one (it is logged).",
                tempo_hint="p loads it",
                id="plan",
            )
            with Vertical(id="center"):
                if self.live.is_group:
                    yield ClientBar(self.live.clients, id="client-bar")
                yield ObjectiveBar(id="objective")
                yield TapPad(self.live.prompt_levels, id="pad")
                yield TallyList(id="tallies")
                yield SyncStrip(id="sync-strip")
                yield Static("", id="pending-bar", markup=False)
                yield EventLog(id="log")
            yield MetronomePanel(id="metronome")
        yield Footer()

    def on_mount(self) -> None:
        names = ", ".join(c.display_name for c in self.live.clients)
        blind = " · second observer (IOA, blind)" if self.live.session.second_observer_of is not None else ""
        self.title = f"Session · {names}{blind}"
        self._tick()
        self.set_interval(1.0, self._tick)
        self.set_interval(RETRY_EVERY_S, self._retry)
        log = self.query_one(EventLog)
        for entry in self.live.entries():
            log.show(entry, self.live.describe(entry), self._who(entry.event.client_id))
        self._refresh_selection()
        self._light = self.query_one(BeatLight)  # the dispatcher thread posts to it, never queries the DOM
        self._forget_listener = self.metronome.add_listener(self._engine_event)
        self._show_metronome()
        self.listening = ListeningControl(
            self.metronome,
            SessionSink(self.live, self.submit),
            changed=lambda: self.post_message(ListeningChanged()),
            on_not_saved=self._block_not_saved,
            on_step=lambda time_s: self.post_message(MidiStep(time_s)),
        )

    def _who(self, client_id: int | None) -> str:
        return self.live.client_name(client_id) if self.live.is_group else ""

    def _tick(self) -> None:
        setting = f" · {self.live.session.setting}" if self.live.session.setting else ""
        self.sub_title = f"{clock_text(self.live.elapsed())}{setting}"
        if self.live.timing():
            self._refresh_tallies()

    def _refresh_selection(self) -> None:
        if self.live.is_group:
            self.query_one(ClientBar).select(self.live.client.id)
        self._refresh_tallies()

    def _refresh_tallies(self) -> None:
        live = self.live
        tallies = live.tallies()
        objective = live.objective
        current = next((t for t in tallies if objective is not None and t.objective == objective), None)
        position = live.objective_number(objective) if objective is not None else 0
        client = live.client.display_name if live.is_group else ""
        self.query_one(ObjectiveBar).show(current, position, len(live.objectives[live.client.id]), client)
        self.query_one(TallyList).show(tallies, objective.id if objective is not None else None)
        if self.query_one(TapPad).levels != live.prompt_levels:  # another objective or plan, its own levels
            self.run_worker(self._relevel_pad(), exclusive=True, group="pad")

    async def _relevel_pad(self) -> None:
        pad = self.query_one(TapPad)
        await pad.set_levels(self.live.prompt_levels)
        pad.show_latency_waiting(self.live.cue_marked)

    # -- writing -------------------------------------------------------------------------------------
    def submit(self, work: Callable[[], Update]) -> Future[Update]:
        """Queue disk work on the writer thread; its result comes back as a Written message."""
        return self.writer.submit(work, lambda update, error: self.post_message(Written(update, error)))

    def tap(self, draft: EventDraft) -> None:
        self.submit(lambda: self.live.commit(draft))

    @on(Written)
    async def _written(self, message: Written) -> None:
        if message.error is not None:
            self.notify(str(message.error), title="Not logged", severity="error", timeout=10)
            return
        update = message.update
        if update is None:
            return
        log = self.query_one(EventLog)
        for entry in update.entries:
            log.show(entry, self.live.describe(entry), self._who(entry.event.client_id))
        if update.entries:
            self._refresh_tallies()
        plan_view = self.query_one(PlanView)
        if plan_view.plan is not self.live.plan:
            await plan_view.show(self.live.plan)
        self._show_problem(update.problem if update.problem else (None if update.entries else self.problem))

    def _show_problem(self, problem: str | None) -> None:
        pending = len(self.live.record.events.pending())
        bar = self.query_one("#pending-bar", Static)
        if problem and pending:
            if problem != self.problem:
                self.notify(problem, title="Saved in memory only, retrying", severity="error", timeout=15)
            bar.update(f"⚠ {pending} entries pending — {problem}")
            self.problem = problem
        elif not pending:
            if self.problem is not None:
                self.notify("Every pending entry is now saved on disk.", title="Saved")
            bar.update("")
            self.problem = None
        bar.set_class(bool(pending), "-visible")

    def _retry(self) -> None:
        if self.live.record.events.pending():
            self.submit(self.live.retry)

    # -- taps ----------------------------------------------------------------------------------------
    def action_trial(self, correct: bool, level: int = 0, outcome: str = "") -> None:
        try:
            draft = self.live.draft_trial(correct, level, outcome)
        except IndexError as problem:
            self.notify(str(problem), severity="warning")
            return
        self.tap(draft)

    def action_pick_prompted_miss(self) -> None:
        """Incorrect with a prompt, level chosen from a list: the way on any keyboard layout and by touch
        (the palette), where shift+digit types something else."""
        levels = self.live.prompt_levels
        choices = [(f"- with {level} prompt", n) for n, level in enumerate(levels) if n > 0]

        def chosen(level: int | None) -> None:
            if level is not None:
                self.action_trial(False, level)

        # Numbered as on the pad (level 2 is the first prompted one), so a digit means the same everywhere.
        picker = Pick("Incorrect, with which prompt?", choices, hint="digit or Enter", first_number=2)
        self.app.push_screen(picker, chosen)

    def action_count(self) -> None:
        self._labelled(DataKind.COUNT, lambda: self.tap(self.live.draft_count()))

    def action_duration(self) -> None:
        def toggle() -> None:
            self.tap(self.live.draft_duration_toggle())
            self._refresh_tallies()

        self._labelled(DataKind.DURATION, toggle)

    def _labelled(self, kind: DataKind, then: Callable[[], None]) -> None:
        """The first count (or duration) on an objective asks what it counts, once: the plan's labels are
        offered, not assumed. After that the key logs at once."""
        live = self.live
        choices = live.label_choices(kind)
        if live.objective is None or live.known_label(kind) is not None or len(choices) == 1:
            then()
            return

        def chosen(label: str | None) -> None:
            if label is not None:
                live.use_label(kind, label)
                then()

        what = "Count" if kind is DataKind.COUNT else "Time"
        title = f"{what} what, for {escape(live.objective.description)}?"
        picker = Pick(title, [(escape(c), c) for c in choices], hint="digit or Enter; asked once")
        self.app.push_screen(picker, chosen)

    def action_sampling(self) -> None:
        """Start time sampling (behaviour, method, interval) or stop it."""
        if self._sampling is not None:
            if self._sampling_timer is not None:
                self._sampling_timer.stop()
            self.notify(f"Time sampling stopped after {self._samples_taken} samples.", timeout=4)
            self._sampling = self._sampling_timer = None
            return

        def method_chosen(method: str | None) -> None:
            if method is None:
                return
            fields = [("Behaviour", "e.g. on task"), ("Every (seconds)", "e.g. 30")]
            self.app.push_screen(
                FieldsPrompt("Time sampling", fields), lambda values: self._start_sampling(method, values)
            )

        methods = [(f"{method}: {question}", method) for method, question in QUESTIONS.items()]
        self.app.push_screen(Pick("Time sampling: which question?", methods), method_chosen)

    def _start_sampling(self, method: str, values: tuple[str, ...] | None) -> None:
        if values is None:
            return
        label, every = values
        try:
            interval = float(every)
            Sample(label, True, method, interval)  # the record's own rules: a label, at least 1 s
        except ValueError as problem:
            self.notify(f"Time sampling not started: {problem}", severity="warning")
            return
        self._sampling, self._samples_taken = SamplingPlan(label, method, interval), 0
        self._sampling_timer = self.set_interval(interval, self._sample_due)
        self.notify(f"{self._sampling.describe()}; I stops.", timeout=5)

    def _sample_due(self) -> None:
        plan = self._sampling
        if plan is None:
            return
        if isinstance(self.app.screen, SampleDialog):  # the last one is still open: this one is lost, said so
            self.notify("A sample was missed: the previous one is still open.", severity="warning")
            return
        self._samples_taken += 1
        number = self._samples_taken

        def answered(occurred: dict[int, bool] | None) -> None:
            if occurred is not None:
                self.submit(
                    lambda: self.live.commit_samples(plan.label, plan.method, plan.interval_s, occurred)
                )

        self.app.push_screen(SampleDialog(plan, self.live.clients, number), answered)

    def action_observe(self) -> None:
        try:
            draft = self.live.draft_observation_toggle()
        except ValueError as problem:
            self.notify(str(problem), severity="warning")
            return
        self.tap(draft)
        self._refresh_tallies()

    def action_latency(self) -> None:
        pad = self.query_one(TapPad)
        if not self.live.cue_marked:
            self.live.mark_cue()
            pad.show_latency_waiting(True)
            self.notify("Cue marked: press l again at the response (Esc-free: it just waits).", timeout=4)
            return
        pad.show_latency_waiting(False)
        self.tap(self.live.draft_latency())

    def action_rating(self) -> None:
        def rated(result: RatingResult | None) -> None:
            if result is not None:
                self.tap(self.live.draft_rating(result.label, result.value, result.phase, result.scale))

        self.app.push_screen(RatingDialog(self.live.rating_choices(), self.live.rated_labels()), rated)

    def action_measure(self) -> None:
        def measured(result: MeasureResult | None) -> None:
            if result is not None:
                self.tap(self.live.draft_measure(result.label, result.value, result.unit, result.phase))

        live = self.live
        self.app.push_screen(MeasureDialog(live.measure_choices(), live.rated_labels(Measure)), measured)

    def action_walk(self) -> None:
        timed = self.live.walk_timer()
        if self.live.walk_timing:
            self.notify("Walk timed from here: W again at the finish line.", timeout=4)
            return

        def walked(result: WalkResult | None) -> None:
            if result is not None:
                metronome = self.metronome
                condition = cadence_condition(metronome.running, metronome.state().cue_faded, self._cued)
                self.tap(self.live.draft_walk(result.seconds, result.distance_m, result.steps, condition))

        self.app.push_screen(WalkDialog(timed), walked)

    def action_abc(self) -> None:
        def entered(values: tuple[str, ...] | None) -> None:
            if values is not None:
                self.tap(self.live.draft_abc(*values))

        fields = [
            ("Antecedent: just before", "e.g. asked to put the drum away"),
            ("Behaviour", "e.g. threw the mallet"),
            ("Consequence: just after", "e.g. given the drum back"),
        ]
        self.app.push_screen(FieldsPrompt("ABC entry", fields), entered)

    def action_note(self) -> None:
        def noted(text: str | None) -> None:
            if text:
                self.tap(self.live.draft_note(text))

        who = f" about {self.live.client.display_name}" if self.live.is_group else ""
        self.app.push_screen(TextPrompt(f"Note{who}", "What happened, or a quote of the client"), noted)

    def action_undo(self) -> None:
        self.submit(self.live.undo_last)

    # -- selection -----------------------------------------------------------------------------------
    def action_cycle_objective(self, step: int) -> None:
        self.live.cycle_objective(step)
        self._refresh_tallies()

    def action_pick_objective(self) -> None:
        live = self.live
        tallies = [t for t in live.tallies() if t.objective is not None]
        if not tallies:
            self.notify(
                f"{live.client.display_name} has no objectives yet: add them on the Today screen (o)."
            )
            return
        current = live.objective
        choices = [(f"{t.label}\n   {t.headline()}", t.objective.id) for t in tallies if t.objective]
        highlighted = next((i for i, (_, oid) in enumerate(choices) if current and oid == current.id), 0)

        def chosen(objective_id: int | None) -> None:
            if objective_id is not None:
                live.select_objective(objective_id)
                self._refresh_tallies()

        self.app.push_screen(Pick("Objective to work on", choices, highlighted, "digit or Enter"), chosen)

    async def action_next_client(self, step: int) -> None:
        if not self.live.is_group:
            return
        self.live.next_client(step)
        await self._client_changed()

    async def action_select_client(self, client_id: int) -> None:
        self.live.select_client(client_id)
        await self._client_changed()

    async def _client_changed(self) -> None:
        await self._relevel_pad()
        self._refresh_selection()

    # -- plan ----------------------------------------------------------------------------------------
    def action_switch_plan(self) -> None:
        from companion.app.screens.plans import PlansScreen

        def chosen(plan_id: str | None) -> None:
            if plan_id is not None:
                self.submit(lambda: self.live.switch_plan(plan_id))

        self.app.push_screen(PlansScreen(choose=True), chosen)

    def action_toggle_plan(self) -> None:
        self.toggle_class("-show-plan")

    # -- ending --------------------------------------------------------------------------------------
    def action_end(self) -> None:
        def answer(end: bool | None) -> None:
            if end:
                self.run_worker(self._stop_listening_and_end, thread=True, group="listening")

        self.app.push_screen(
            Confirm(
                "End the session?",
                "Running timers are stopped and the session is closed; the SOAP note opens, pre-filled "
                "from the data.",
                "End session",
                "Keep going",
            ),
            answer,
        )

    @on(SessionEnded)
    def _ended(self, message: SessionEnded) -> None:
        if message.session is not None:  # silence, and let another session play (closing may block)
            self.app.run_worker(self.metronome.close, thread=True, group="metronome")
        if message.error is not None or message.session is None:
            cause = str(message.error) if isinstance(message.error, StorageError) else repr(message.error)
            self.notify(
                f"{cause} The session stays open and nothing is lost; press e to try again.",
                title="The session could not be ended",
                severity="error",
                timeout=15,
            )
            return
        self.writer.close()
        observed = message.session.second_observer_of
        if observed is None:
            self.companion.open_note(message.session.id, replace_screen=True)
            return
        # A second observer writes no note: the agreement goes with the observed session (Review shows it).
        record = self.live.record
        figures = (
            [a.describe() for a in record.sessions.agreement(observed)]
            if record.sessions.session(observed).ended_at
            else []
        )
        told = "; ".join(figures) if figures else "it is computed when the observed session ends"
        self.notify(f"Second observer's record saved. Agreement: {told}.", title="IOA", timeout=12)
        self.companion.back_to_today()

    def _stop_listening_and_end(self) -> None:
        """The last block is logged before the session ends (its write goes through the writer too)."""
        self.listening.stop()
        self.writer.submit(
            self.live.end, lambda session, error: self.post_message(SessionEnded(session, error))
        )

    def on_unmount(self) -> None:
        if self._forget_listener is not None:
            self._forget_listener()
        self.listening.stop()
        self.writer.close()

    # -- metronome -----------------------------------------------------------------------------------
    @property
    def metronome(self) -> MetronomeControl:
        return self.companion.metronome

    def _engine_event(self, event: EngineEvent) -> None:
        """From the engine's dispatcher thread: only post messages (thread-safe), never touch widgets."""
        if isinstance(event, BeatEvent):
            self._light.post_message(Beat(event))
            if event.beat == 0 and event.sub == 0 and not event.count_in:
                self.post_message(MetronomeEvent(bpm=float(event.bpm)))
        elif isinstance(event, OutputProblem):
            self.post_message(MetronomeEvent(problem=event))

    def _show_metronome(self, bpm: float | None = None) -> None:
        self.query_one(MetronomePanel).show(self.metronome.state(), bpm)

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
            self._show_metronome()
        elif message.bpm is not None and message.bpm != self._bar_bpm:
            self._bar_bpm = message.bpm  # a ramp moved the tempo: the next taps were at this tempo
            self._show_metronome(message.bpm)
            self._tempo_changed(message.bpm)
        elif message.bpm is not None:
            self._show_metronome(message.bpm)  # a bar line: the song's bar, a fade's end

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
            self._show_metronome()
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
            self.query_one("#metro-status", Static).update(told)
            self.notify(told, title="Another session is playing", severity="warning", timeout=15)
            return
        if message.error is not None or message.state is None:
            self.notify(str(message.error), title="The metronome could not start", severity="error")
            return
        self._bar_bpm = message.state.bpm
        self._cued = True
        self._show_metronome()
        self._tempo_changed(at_once=True)

    def _apply(self, change: Callable[[], object], success: str = "") -> None:
        """Run a tempo change; the tempo model's message is shown if the value cannot be played."""
        try:
            change()
        except (TempoError, ValueError) as problem:
            self.notify(str(problem), title="Tempo not changed", severity="warning")
            return
        self._bar_bpm = None
        self._show_metronome()
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

    def action_toggle_music(self) -> None:
        """The plan's groove or song off (the click alone), or back on, from the next bar line."""
        if self.metronome.cue is CLICK:
            self.notify("The cue is the click: load a plan's preset (p) for its groove or song.")
            return
        on: list[bool] = []
        self._apply(lambda: on.append(self.metronome.toggle_music()))
        if on:
            self.notify(f"{self.metronome.cue.summary}: {'on' if on[0] else 'off, click only'}", timeout=3)

    def _cue_change(self, change: Callable[[], str]) -> None:
        """Run a cue control; its outcome (or why it cannot apply now) is shown, the panel redrawn."""
        try:
            outcome = change()
        except ValueError as problem:
            self.notify(str(problem), title="Cue not changed", severity="warning")
            return
        self._show_metronome()
        self.notify(outcome, timeout=3)

    def action_fade_click(self) -> None:
        self._cue_change(lambda: "Click " + _fading(self.metronome.fade_click()))

    def action_fade_music(self) -> None:
        self._cue_change(lambda: "Music " + _fading(self.metronome.fade_music()))

    def action_intensity(self, step: int) -> None:
        self._cue_change(lambda: f"Groove intensity {self.metronome.change_intensity(step)} of 3")

    def action_mark_loop(self) -> None:
        def mark() -> str:
            loop = self.metronome.mark_loop()
            start = self.metronome.loop_start
            if loop is not None:
                return f"Looping {loop} from the next bar line (L again ends the loop)"
            if start is not None:
                return f"Loop from bar {start}: press L at its last bar"
            return "Loop ended: the song plays on"

        self._cue_change(mark)

    def action_seek(self) -> None:
        try:
            bars = self.metronome.song_bars()
        except ValueError as problem:
            self.notify(str(problem), title="Cue not changed", severity="warning")
            return

        def entered(text: str | None) -> None:
            if text:
                self._cue_change(lambda: f"Bar {self.metronome.seek(int(text))} from the next bar line")

        self.app.push_screen(
            TextPrompt(f"Go to bar (1-{bars})", "e.g. 5", accept="Go", restrict=r"[0-9]*"), entered
        )

    def action_pick_cue(self) -> None:
        metronome = self.metronome
        meter = metronome.settings.meter
        choices = cue_choices(self.live.client.preferred_songs, TimeSignature(meter.beats, meter.unit))

        def chosen(choice: CueChoice | None) -> None:
            if choice is None:
                return
            if choice.cue is None:
                self.notify(
                    f"{choice.problem} The cue stays {metronome.cue.summary}; the session carries on.",
                    title="This song cannot play",
                    severity="error",
                    timeout=15,
                )
                return
            cue = choice.cue
            notes: list[str | None] = []
            self._apply(lambda: notes.append(metronome.choose_cue(cue)), f"Cue: {cue.summary}")
            for note in notes:
                if note:
                    self.notify(note, title="Cue", severity="warning", timeout=10)

        self.app.push_screen(CuePicker(choices, metronome.cue), chosen)

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

    def action_tap_tempo(self) -> None:
        """Each tap is a step; after a pause the cadence becomes the tempo and is logged (RAS baseline)."""
        self._step(time.perf_counter())

    def _step(self, at: float) -> None:
        reading = self.taps.tap(at)
        self.query_one("#metro-status", Static).update(reading.describe())
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
            self._show_metronome()
            return
        spm = round(found.steps_per_min, 1)
        if not self.live.records_cadence:  # a drum session: the taps set a tempo, they are not steps
            self._apply(
                lambda: self.metronome.set_bpm(spm),
                f"Tempo {spm:g} bpm from {found.steps} taps. This plan takes no gait cadence, so none is "
                "logged; the tempo is, as it plays.",
            )
            return
        metronome = self.metronome
        condition = cadence_condition(metronome.running, metronome.state().cue_faded, self._cued)
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

    def action_reconnect(self) -> None:
        self.run_worker(self._reconnect, thread=True, exclusive=True, group="metronome")

    def _reconnect(self) -> None:
        state = self.metronome.reconnect()
        self.post_message(MetronomeStarted(state, None) if state.running else MetronomeEvent())

    # -- listening to the client (issue 6) -------------------------------------------------------------
    def action_listen(self) -> None:
        """Start or stop listening; the first time, the MIDI input is chosen (or the one there is)."""
        listening = self.listening
        if listening.listening:
            self.run_worker(self._stop_listening, thread=True, exclusive=True, group="listening")
        elif listening.port is not None:
            self._start_listening(listening.port)
        else:
            self.action_choose_input(only_one_starts=True)

    def action_choose_input(self, only_one_starts: bool = False) -> None:
        try:
            inputs = self.listening.inputs()
        except MidiInputError as problem:
            self.notify(str(problem), title="Not listening", severity="warning", timeout=10)
            return
        if only_one_starts and len(inputs) == 1:
            self._start_listening(inputs[0])
            return
        current = inputs.index(self.listening.port) if self.listening.port in inputs else 0

        def chosen(port: str | None) -> None:
            if port is not None:
                self._start_listening(port)

        self.app.push_screen(
            Pick("MIDI input to listen to", [(name, name) for name in inputs], current, "digit or Enter"),
            chosen,
        )

    def _start_listening(self, port: str) -> None:
        def start() -> None:
            try:
                text = self.listening.start(port)
            except MidiInputError as problem:
                self.post_message(ListeningDone("", str(problem)))
                return
            self.post_message(ListeningDone(text))

        self.run_worker(start, thread=True, exclusive=True, group="listening")

    def _stop_listening(self) -> None:
        report = self.listening.stop()
        last = f" The last block: {report.describe()}." if report is not None else ""
        self.post_message(ListeningDone(f"Stopped listening.{last}"))

    def action_adaptive(self) -> None:
        settings = self.listening.next_adaptive()
        if settings.mode is AdaptiveMode.OFF:
            self.notify("Adaptive tempo off: the tempo stays where you set it.", timeout=4)
        else:
            self.notify(self.listening.view().adaptive, title="Adaptive tempo on", timeout=6)

    def _block_not_saved(self, report: BlockReport) -> None:
        """From the listening thread: a block that did not reach the disk is said at once."""
        self.post_message(ListeningDone("", report.describe()))

    @on(ListeningDone)
    def _listening_done(self, message: ListeningDone) -> None:
        if message.error:
            self.notify(message.error, title="Listening", severity="warning", timeout=10)
        elif message.text:
            self.notify(message.text, title="Listening", timeout=6)
        self._show_listening()

    @on(ListeningChanged)
    def _show_listening(self) -> None:
        self.query_one(SyncStrip).show(self.listening.view())
        if self.listening.adaptive_mode is not AdaptiveMode.OFF:
            self._show_metronome()

    @on(MidiStep)
    def _midi_step(self, message: MidiStep) -> None:
        self._step(message.time_s)


def _fading(gain: float) -> str:
    return "fading out over two bars" if gain == 0 else "fading back in over two bars"
