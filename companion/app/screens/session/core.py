"""What every part of the live session screen shares: the live session, its one writer thread, and the
log, tallies and pending bar that show what the writer saved.

A tap is drafted by a part of the screen (capturing the client and objective selected at that moment),
written by the session's one writer thread, and shown only once `record.events.log` has returned: the log
never shows an entry that is not on disk, except as "pending" (kept in memory, retried every few seconds, and
flagged above the log with the cause and the fix). On a server record, entries saved on this computer and
not yet on the server are counted in the same bar, calmly: they are safe, and go when the server answers.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

from textual import on
from textual.message import Message
from textual.widgets import Static

from companion.app.screens.base import CompanionScreen
from companion.app.widgets.client_bar import ClientBar
from companion.app.widgets.plan_view import PlanView
from companion.app.widgets.session_log import SessionLog
from companion.app.widgets.tally_list import ObjectiveBar, TallyList
from companion.app.widgets.tap_pad import TapPad
from companion.live.cadence_taps import cadence_condition
from companion.live.listening_control import ListeningControl
from companion.live.metronome_control import MetronomeControl
from companion.live.server_status import waiting_for_server
from companion.live.session_controller import LiveSession, Update
from companion.live.tap_writer import TapWriter
from companion.live.wall_clock import clock_text
from companion.record import EventDraft

RETRY_EVERY_S = 3.0


class Written(Message):
    """The writer thread finished one piece of disk work (posted from that thread)."""

    def __init__(self, update: Update | None, error: BaseException | None) -> None:
        super().__init__()
        self.update = update
        self.error = error


class SessionCore(CompanionScreen):
    """The live session and its writer; the parts of the screen (taps, metronome, cues, listening) build
    on it, each with its own keys."""

    listening: ListeningControl
    """Listening to the client on MIDI (set up once the screen is mounted)."""

    def __init__(self, live: LiveSession) -> None:
        super().__init__()
        self.live = live
        self.writer = TapWriter()
        self.problem: str | None = None
        self._cued = False  # the metronome has played this session: later uncued cadences are carry-over

    @property
    def metronome(self) -> MetronomeControl:
        return self.companion.metronome

    def _cadence_condition(self) -> str:
        """How a cadence measured now was walked: cued by the metronome, uncued, or carry-over."""
        metronome = self.metronome
        return cadence_condition(metronome.running, metronome.state().cue_faded, self._cued)

    def _show_session(self) -> None:
        """Title, clock and the log as saved so far (a resumed session shows its earlier entries)."""
        names = ", ".join(c.display_name for c in self.live.clients)
        blind = " · second observer (IOA, blind)" if self.live.session.second_observer_of is not None else ""
        self.title = f"Session · {names}{blind}"
        self._tick()
        self.set_interval(1.0, self._tick)
        self.set_interval(RETRY_EVERY_S, self._retry)
        log = self.query_one(SessionLog)
        for entry in self.live.entries():
            log.show(entry, self.live.describe(entry), self._who(entry.event.client_id))
        self._refresh_selection()

    def _who(self, client_id: int | None) -> str:
        return self.live.client_name(client_id) if self.live.is_group else ""

    def _tick(self) -> None:
        setting = f" · {self.live.session.setting}" if self.live.session.setting else ""
        self.sub_title = f"{clock_text(self.live.elapsed())}{setting}"
        self._show_waiting()
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
        log = self.query_one(SessionLog)
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
            self.problem = None
            self._show_waiting()
            return
        bar.set_class(bool(pending), "-visible")
        bar.remove_class("-waiting")

    def _show_waiting(self) -> None:
        """Entries safe on this computer that the practice's server has not taken yet (a server record):
        said calmly, with the reason; once they are all there, said once."""
        if self.problem is not None:
            return  # the alarm about unsaved entries stays until they are saved
        waiting = waiting_for_server(self.live.record)
        bar = self.query_one("#pending-bar", Static)
        if not waiting and not bar.has_class("-visible"):
            return  # nothing to say and nothing shown: no redraw every second (a record in a file, always)
        if not waiting and bar.has_class("-waiting"):
            self.notify("Every entry has reached the practice's server.", title="Sent")
        bar.update(waiting)
        bar.set_class(bool(waiting), "-visible", "-waiting")

    def _retry(self) -> None:
        if self.live.record.events.pending():
            self.submit(self.live.retry)
