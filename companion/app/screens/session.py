"""The live session screen: the plan, the quick-tap pad, running tallies, the live log and the metronome.

Mid-session the therapist has one hand on an instrument, so every action is one key or one touch and
undo is always one key away. A tap is drafted here (capturing the client and objective selected at that
moment), written by the session's one writer thread, and shown only once `Record.log` has returned: the
log never shows an entry that is not on disk, except as "pending" (kept in memory, retried every few
seconds, and flagged above the log with the cause and the fix).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Footer, Header, Static

from companion.app.clock import clock_text
from companion.app.screens.base import CompanionScreen
from companion.app.screens.dialogs import Confirm, Pick, TextPrompt
from companion.app.screens.rating import RatingDialog, RatingResult
from companion.app.widgets.client_bar import ClientBar
from companion.app.widgets.event_log import EventLog
from companion.app.widgets.plan_view import PlanView
from companion.app.widgets.tallies import ObjectiveBar, TallyList
from companion.app.widgets.tap_pad import TapPad
from companion.record import EventDraft, Session, StorageError
from companion.session_controller import LiveSession, TapWriter, Update

RETRY_EVERY_S = 3.0


class Written(Message):
    """The writer thread finished one piece of disk work (posted from that thread)."""

    def __init__(self, update: Update | None, error: BaseException | None) -> None:
        super().__init__()
        self.update = update
        self.error = error


class SessionEnded(Message):
    def __init__(self, session: Session | None, error: BaseException | None) -> None:
        super().__init__()
        self.session = session
        self.error = error


class LiveSessionScreen(CompanionScreen):
    """Take data during a session: one key per tap, the log and tallies update as soon as it is saved."""

    HELP_TITLE = "live session"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "plus,equals_sign",
            "trial(True, 0)",
            "Correct",
            key_display="+",
            tooltip="Correct, independent (first prompt level)",
        ),
        Binding("minus", "trial(False, 0)", "Incorrect", key_display="-"),
        *(
            Binding(str(n), f"trial(True, {n - 1})", f"Correct at prompt level {n}", show=False)
            for n in range(2, 10)
        ),
        Binding("o", "pick_objective", "Objective"),
        Binding("right_square_bracket", "cycle_objective(1)", "Next objective", show=False, key_display="]"),
        Binding(
            "left_square_bracket", "cycle_objective(-1)", "Previous objective", show=False, key_display="["
        ),
        Binding("c", "count", "Count +1", show=False),
        Binding("d", "duration", "Duration start/stop", show=False),
        Binding("l", "latency", "Latency: cue, then response", show=False),
        Binding("r", "rating", "Rating", show=False),
        Binding("n", "note", "Note"),
        Binding("u,ctrl+z", "undo", "Undo"),
        Binding("g", "next_client(1)", "Group: next client", show=False),
        Binding("G", "next_client(-1)", "Group: previous client", show=False, key_display="G"),
        Binding("i", "switch_plan", "Intervention", show=False),
        Binding("v", "toggle_plan", "Show/hide plan", show=False),
        Binding("e", "end", "End session"),
    ]

    def __init__(self, live: LiveSession) -> None:
        super().__init__()
        self.live = live
        self.writer = TapWriter()
        self.problem: str | None = None

    # -- layout --------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="session-body"):
            yield PlanView(self.live.plan, id="plan")
            with Vertical(id="center"):
                if self.live.is_group:
                    yield ClientBar(self.live.clients, id="client-bar")
                yield ObjectiveBar(id="objective")
                yield TapPad(self.live.prompt_levels, id="pad")
                yield TallyList(id="tallies")
                yield Static("", id="pending-bar")
                yield EventLog(id="log")
        yield Footer()

    def on_mount(self) -> None:
        names = ", ".join(c.display_name for c in self.live.clients)
        self.title = f"Session · {names}"
        self._tick()
        self.set_interval(1.0, self._tick)
        self.set_interval(RETRY_EVERY_S, self._retry)
        log = self.query_one(EventLog)
        for entry in self.live.entries():
            log.show(entry, self.live.describe(entry), self._who(entry.event.client_id))
        self._refresh_selection()

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

    # -- writing -------------------------------------------------------------------------------------
    def submit(self, work: Callable[[], Update]) -> None:
        """Queue disk work on the writer thread; its result comes back as a Written message."""
        self.writer.submit(work, lambda update, error: self.post_message(Written(update, error)))

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
        pending = len(self.live.record.pending())
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
        if self.live.record.pending():
            self.submit(self.live.retry)

    # -- taps ----------------------------------------------------------------------------------------
    def action_trial(self, correct: bool, level: int = 0) -> None:
        try:
            draft = self.live.draft_trial(correct, level)
        except IndexError as problem:
            self.notify(str(problem), severity="warning")
            return
        self.tap(draft)

    def action_count(self) -> None:
        self.tap(self.live.draft_count())

    def action_duration(self) -> None:
        self.tap(self.live.draft_duration_toggle())
        self._refresh_tallies()

    def action_latency(self) -> None:
        if not self.live.cue_marked:
            self.live.mark_cue()
            self.notify("Cue marked: press l again at the response (Esc-free: it just waits).", timeout=4)
            return
        self.tap(self.live.draft_latency())

    def action_rating(self) -> None:
        def rated(result: RatingResult | None) -> None:
            if result is not None:
                self.tap(self.live.draft_rating(result.label, result.value, result.phase, result.scale))

        self.app.push_screen(RatingDialog(self.live.rating_choices(), self.live.rated_labels()), rated)

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
        await self.query_one(TapPad).set_levels(self.live.prompt_levels)
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
                self.writer.submit(
                    self.live.end, lambda session, error: self.post_message(SessionEnded(session, error))
                )

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
        self.companion.open_note(message.session.id, replace_screen=True)

    def on_unmount(self) -> None:
        self.writer.close()
