"""The data-taking keys of the live session: trials at every prompt level, counts, durations, time
sampling, observation, latency, ratings, measures, timed walks, ABC entries and notes, undo, which client
and objective a tap is for, the intervention, and ending the session.

Mid-session the therapist has one hand on an instrument, so every action is one key or one touch and
undo is always one key away.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.markup import escape
from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.timer import Timer

from companion.app.screens.dialogs import Confirm, FieldsPrompt, Pick, TextPrompt
from companion.app.screens.measure import MeasureDialog, MeasureResult
from companion.app.screens.rating import RatingDialog, RatingResult
from companion.app.screens.sampling import SampleDialog
from companion.app.screens.session.core import SessionCore
from companion.app.screens.walk import WalkDialog, WalkResult
from companion.app.widgets.tap_pad import TapPad
from companion.live.session_controller import LiveSession
from companion.live.time_sampling import QUESTIONS, SamplingPlan
from companion.record import Measure, Session, StorageError
from interventions import DataKind

PROMPTED = Binding.Group("Correct with a prompt: the level's number (as on the pad)", compact=True)
PROMPTED_MISS = Binding.Group("Incorrect with a prompt: shift (⇧) + the level's number", compact=True)
SHIFTED_DIGITS = (
    *("at", "number_sign", "dollar_sign", "percent_sign"),
    *("circumflex_accent", "ampersand", "asterisk", "left_parenthesis"),
)
"""What shift + 2..9 types (US layout), so "shift+3" is "incorrect, third level" as 3 is "correct"."""


class SessionEnded(Message):
    def __init__(self, session: Session | None, error: BaseException | None) -> None:
        super().__init__()
        self.session = session
        self.error = error


class TapKeys(SessionCore):
    """One key per tap; the log and tallies update as soon as it is saved."""

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
    ]

    def __init__(self, live: LiveSession) -> None:
        super().__init__(live)
        self._sampling: SamplingPlan | None = None
        self._sampling_timer: Timer | None = None
        self._samples_taken = 0

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
        choices = live.labels_to_ask(kind)
        if not choices or live.objective is None:
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
            plan = SamplingPlan.from_form(label, method, every)
        except ValueError as problem:
            self.notify(f"Time sampling not started: {problem}", severity="warning")
            return
        self._sampling, self._samples_taken = plan, 0
        self._sampling_timer = self.set_interval(plan.interval_s, self._sample_due)
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
                condition = self._cadence_condition()
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
        if message.session is not None:  # silence, and let another session play (closes off the UI thread)
            self.metronome.close()
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
        figures = self.live.agreement()
        told = "; ".join(figures) if figures else "it is computed when the observed session ends"
        self.notify(f"Second observer's record saved. Agreement: {told}.", title="IOA", timeout=12)
        self.companion.back_to_today()

    def _stop_listening_and_end(self) -> None:
        """The last block is logged before the session ends (its write goes through the writer too)."""
        self.listening.stop()
        self.writer.submit(
            self.live.end, lambda session, error: self.post_message(SessionEnded(session, error))
        )
