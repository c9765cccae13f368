"""The start screen: today's caseload, one client's goals and progress, suggested plans, start a session.

One key starts a session with the highlighted client (or with the group marked with Space); a session
left open (a crash, or a window or browser tab closed during it) is offered for resuming first, so no
data taken in it are stranded. Opening the app highlights that session's client, so the visit after a
closed tab starts by saying a session is still open.
"""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Footer, Header, Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from companion.app.screens.base import CompanionScreen
from companion.app.screens.caseload_dialogs import AddClient, AddObjective
from companion.app.screens.dialogs import Confirm, Pick
from companion.app.screens.start_session import StartSession
from companion.documents.wording import number_objectives
from companion.live.caseload_forms import NewClient, NewObjective, add_client, add_objective
from companion.live.overview import (
    ClientOverview,
    client_overview,
    progress_line,
    session_left_open,
    session_line,
)
from companion.live.session_controller import SessionRequest
from companion.live.wall_clock import local_time, today
from companion.record import Client, Objective
from companion.record.model import DOMAINS, METRICS
from interventions import Place

SETTINGS = [place.value for place in Place]


class TodayScreen(CompanionScreen):
    """Pick or add a client (or a group), see their goals, objectives and suggestions, start a session."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start", "Start", tooltip="Start (or resume) a session with the client or group"),
        Binding(
            "space", "toggle_group", "Group", key_display="space", tooltip="Add/remove the client to a group"
        ),
        Binding("a", "add_client", "Add client"),
        Binding(
            "O",
            "second_observer",
            "Second observer",
            key_display="O",
            show=False,
            tooltip="Take data blind on a session another therapist is running (inter-observer agreement)",
        ),
        Binding("o", "add_objective", "Objective", tooltip="Add a goal objective for the client"),
        Binding("p", "app.plans", "Plans", tooltip="Browse intervention plans"),
        Binding("r", "review", "Review", tooltip="Sessions, notes, progress charts, reports"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.clients: list[Client] = []
        self.group: list[int] = []
        self.overview: ClientOverview | None = None
        self._start_pending: tuple[int, str | None] | None = None
        self._visit_opened = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="caseload"):
            yield Label("Clients", classes="panel-title")
            yield OptionList(id="clients")
            yield Static("", id="group-line")
            yield Label("Today", classes="panel-title")
            yield Static("", id="today-sessions")
        with VerticalScroll(id="client-detail"):
            yield Static("Opening the session record…", id="client-heading")
            yield Static("", id="open-session")
            yield Label("Goals and objectives", classes="panel-title")
            yield Static("", id="objectives")
            yield Label("Suggested interventions (Enter starts a session with one)", classes="panel-title")
            yield OptionList(id="suggestions")
            yield Label("Recent sessions", classes="panel-title")
            yield Static("", id="recent")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Companion"
        self.sub_title = today(self.companion.clock).strftime("%A %-d %B %Y")
        if self.companion.record_open:  # else loaded when the record is open (and someone signed in)
            who = self.services.record.staff.signed_in  # a practice: whose caseload this is
            self.sub_title += f" · {who.signature}" if who is not None else ""
            self.reload()

    # -- loading -------------------------------------------------------------------------------------
    def reload(self, select: int | None = None) -> None:
        """Fill the client list from the record (after start-up, adding a client, ending a session)."""
        record = self.services.record
        self.clients = record.caseload.clients()
        if not self._visit_opened:  # the first load of this visit: a session left open comes first
            self._visit_opened = True
            left_open = session_left_open(record)
            if select is None and left_open is not None:
                select = left_open.client_ids[0]
        self.query_one("#today-sessions", Static).update(self._today_text())
        listing = self.query_one("#clients", OptionList)
        highlighted = listing.highlighted
        listing.clear_options()
        listing.add_options([Option(self._client_prompt(c), id=str(c.id)) for c in self.clients])
        if not self.clients:
            self.query_one("#client-heading", Static).update(
                "No clients yet. Press [b]a[/] to add your first client "
                "(or run `companion demo-data` to explore with a demo practice)."
            )
            return
        index = next((i for i, c in enumerate(self.clients) if c.id == select), None)
        listing.highlighted = index if index is not None else min(highlighted or 0, len(self.clients) - 1)
        listing.focus()

    def _today_text(self) -> Text:
        """Today's sessions: who, when (local time), and whether the note is still to write."""
        record = self.services.record
        day = today(self.companion.clock)
        names = {c.id: c.display_name for c in self.clients}
        text = Text()
        for session in record.sessions.sessions(start=day, end=day):
            who = ", ".join(names.get(c, "?") for c in session.client_ids)
            text.append(f"{local_time(session.started_at)[:5]} {who}")
            if session.ended_at is None:
                text.append(" · open", style="bold")
            elif not any(record.notes.note(session.id, c).updated_at for c in session.client_ids):
                text.append(" · note to write", style="italic")
            text.append("\n")
        return text if text else Text("No sessions yet today.", style="dim")

    def _client_prompt(self, client: Client) -> Text:
        marker = "● " if client.id in self.group else "  "
        text = Text(marker, style="bold $accent" if client.id in self.group else "")
        text.append(client.display_name, style="bold")
        if client.population:
            text.append(f"\n  {client.population}", style="dim")
        return text

    @property
    def highlighted_client(self) -> Client | None:
        index = self.query_one("#clients", OptionList).highlighted
        return self.clients[index] if index is not None and index < len(self.clients) else None

    @on(OptionList.OptionHighlighted, "#clients")
    def _client_highlighted(self) -> None:
        client = self.highlighted_client
        if client is not None:
            self.query_one("#client-heading", Static).update(Text(client.display_name, style="bold"))
            self.load_overview(client.id)

    @work(thread=True, exclusive=True, group="overview")
    def load_overview(self, client_id: int) -> None:
        overview = client_overview(
            self.services.record, self.services.library, client_id, today(self.companion.clock)
        )
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.show_overview, overview)

    def show_overview(self, overview: ClientOverview) -> None:
        self.overview = overview
        self.call_after_refresh(self._start_if_asked, overview.client.id)
        client = overview.client
        heading = Text(client.display_name, style="bold")
        age = overview.age(today(self.companion.clock))
        details = [d for d in (f"age {age}" if age is not None else "", client.population) if d]
        if details:
            heading.append("  " + " · ".join(details), style="dim")
        if client.preferred_music:
            heading.append(f"\n♪ {client.preferred_music}")
        self.query_one("#client-heading", Static).update(heading)
        self.query_one("#open-session", Static).update(
            f"[b]A session started {local_time(overview.open_session.started_at)[:5]} on "
            f"{overview.open_session.date.isoformat()} is still open[/]: it was not ended. Press [b]s[/] to "
            "resume it or end it."
            if overview.open_session is not None
            else ""
        )
        self.query_one("#objectives", Static).update(self._objectives_text(overview))
        suggestions = self.query_one("#suggestions", OptionList)
        suggestions.clear_options()
        suggestions.add_options(
            [
                Option(
                    Text.assemble((s.plan.title, "bold"), "  ", (overview.reason(s), "dim")),
                    id=s.plan.id,
                )
                for s in overview.suggestions
            ]
        )
        titles = self.services.titles
        recent = "\n".join(
            escape(session_line(s, titles)) + f" · note {overview.note_states.get(s.id, 'not written')}"
            for s in overview.recent
        )
        recent = recent or "No sessions yet."
        attended = f"Attendance: {escape(overview.attendance)}.\n" if overview.attendance else ""
        self.query_one("#recent", Static).update(attended + recent)

    def _objectives_text(self, overview: ClientOverview) -> Text:
        if not overview.goals:
            return Text("No goals yet: press o to add an objective (data can still be taken as notes).")
        text = Text()
        numbers = number_objectives(overview.goals, [p.objective for p in overview.progress])
        for goal in overview.goals:
            text.append(f"{goal.domain}: ", style="bold")
            text.append(goal.description + "\n")
            for progress in overview.progress:
                if progress.objective.goal_id != goal.id:
                    continue
                style = "bold green" if progress.mastered else ""
                text.append(
                    f"  {numbers[progress.objective.id]}. {progress.objective.description}\n", style=style
                )
                text.append(f"     {progress_line(progress)}\n", style="dim")
        return text

    # -- actions -------------------------------------------------------------------------------------
    def action_review(self) -> None:
        """Review opens on the client highlighted here."""
        client = self.highlighted_client
        self.companion.action_review(client.id if client is not None else None)

    def action_toggle_group(self) -> None:
        client = self.highlighted_client
        if client is None:
            return
        if client.id in self.group:
            self.group.remove(client.id)
        else:
            self.group.append(client.id)
        listing = self.query_one("#clients", OptionList)
        listing.replace_option_prompt(str(client.id), self._client_prompt(client))
        names = [c.display_name for c in self.clients if c.id in self.group]
        self.query_one("#group-line", Static).update(
            f"Group: {escape(', '.join(names))}\n[dim]s starts a group session[/]" if names else ""
        )

    @on(OptionList.OptionSelected, "#clients")
    def _client_chosen(self) -> None:
        self.action_start()

    def action_start(self, plan_id: str | None = None) -> None:
        client = self.highlighted_client
        if client is None:
            self.notify("Add a client first (a).", severity="warning")
            return
        overview = self.overview if self.overview and self.overview.client.id == client.id else None
        if overview is None:  # still loading: decide once we know whether a session is open
            self._start_pending = (client.id, plan_id)
            return
        if not self.group and overview.open_session is not None:
            self._offer_resume(overview.open_session.id)
            return
        client_ids = tuple(self.group) if self.group else (client.id,)
        names = ", ".join(c.display_name for c in self.clients if c.id in client_ids)
        suggestions = overview.suggestions if not self.group else ()
        suggested = [(s.plan.title, s.plan.id) for s in suggestions]
        others = sorted(
            (p.title, p.id) for p in self.services.library.plans if p.id not in {s[1] for s in suggested}
        )
        chosen = plan_id or (suggested[0][1] if suggested else None)
        setting = overview.last_setting
        self.app.push_screen(
            StartSession(client_ids, names, SETTINGS, setting, [*suggested, *others], chosen), self._start
        )

    def action_second_observer(self) -> None:
        """Pick a session that is running now (on this or another device) and record it blind."""
        record = self.services.record

        def running() -> list[tuple[str, SessionRequest]]:
            names = {c.id: c.display_name for c in record.caseload.clients()}
            return [
                (
                    escape(", ".join(names.get(c, "?") for c in s.client_ids))
                    + f" · started {local_time(s.started_at)}",
                    SessionRequest(s.client_ids, s.setting, None, second_observer_of=s.id),
                )
                for s in record.sessions.sessions()
                if s.ended_at is None
            ]

        def offer(choices: list[tuple[str, SessionRequest]]) -> None:
            if not choices:
                self.notify("No session is running to observe: the therapist starts it first.")
                return
            self.app.push_screen(Pick("Observe which session (blind, for agreement)?", choices), self._start)

        self.companion.run_io(running, offer, "Running sessions could not be listed")

    def _start_if_asked(self, client_id: int) -> None:
        """`s` was pressed before the overview arrived: carry on now that it is here."""
        pending, self._start_pending = self._start_pending, None
        if pending is not None and pending[0] == client_id:
            self.action_start(pending[1])

    @on(OptionList.OptionSelected, "#suggestions")
    def _start_with_plan(self, event: OptionList.OptionSelected) -> None:
        self.action_start(event.option_id)

    def _start(self, request: SessionRequest | None) -> None:
        if request is not None:
            self.group.clear()
            self.query_one("#group-line", Static).update("")
            self.companion.start_session(request)

    def _offer_resume(self, session_id: int) -> None:
        def answer(resume: bool | None) -> None:
            if resume:
                self.companion.resume_session(session_id)

        self.app.push_screen(
            Confirm(
                "Resume the open session?",
                "This session was not ended (the app, or its browser tab, was closed during it). Its "
                "data are safe. Resume it to carry on taking data, or to end it now: e ends it and opens "
                "the note.",
                "Resume session",
            ),
            answer,
        )

    def action_add_client(self) -> None:
        self.app.push_screen(AddClient(today(self.companion.clock).year), self._add_client)

    def _add_client(self, new: NewClient | None) -> None:
        if new is None:
            return

        def added(client: Client) -> None:
            self.notify(f"Added {client.display_name}.")
            self.reload(select=client.id)

        self.companion.run_io(lambda: add_client(self.services.record, new), added, "Client not added")

    def action_add_objective(self) -> None:
        client = self.highlighted_client
        if client is None:
            self.notify("Add a client first (a).", severity="warning")
            return
        goals = [(g.description, g.id) for g in self.services.record.caseload.goals(client.id)]
        self.app.push_screen(
            AddObjective(client.display_name, goals, DOMAINS, METRICS),
            lambda new: self._add_objective(client, new),
        )

    def _add_objective(self, client: Client, new: NewObjective | None) -> None:
        if new is None:
            return
        record = self.services.record

        def added(objective: Objective) -> None:
            self.notify(f"Objective added for {client.display_name}: {objective.description}")
            self.load_overview(client.id)

        self.companion.run_io(lambda: add_objective(record, client.id, new), added, "Objective not added")
