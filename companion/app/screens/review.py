"""Review: a client's sessions (events and note of each), per-objective progress charts, quarterly report.

Everything is read through the record layer (summaries, progress with trend and mastery, the report
builder), in workers, so years of data never stall the screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import ClassVar

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    OptionList,
    Static,
    TabbedContent,
    TabPane,
)
from textual.widgets.option_list import Option
from textual_plotext import PlotextPlot

from companion.app.screens.base import CompanionScreen
from companion.app.screens.dialogs import Pick
from companion.documents.export import write_private
from companion.documents.report import build_report, report_file_name, report_pdf
from companion.documents.soap import note_text
from companion.documents.wording import plan_label, progress_sentence
from companion.live.log_lines import describe
from companion.live.overview import progress_line
from companion.live.wall_clock import local_time, today
from companion.paths import exports_dir
from companion.record import Client, Event, ObjectiveProgress, Session, SessionNote
from companion.record.model import PHASES

REPORT_WEEKS = 13


@dataclass(frozen=True)
class SessionDetail:
    session: Session
    events: tuple[Event, ...]
    notes: tuple[tuple[str, SessionNote], ...]
    hierarchy: tuple[str, ...]
    agreement: tuple[str, ...] = ()  # "objective: IOA trial-by-trial 90% (10 trials)" lines


class ProgressChart(PlotextPlot):
    """One objective's value per session against its criterion, in the terminal."""

    def __init__(self, progress: ObjectiveProgress) -> None:
        super().__init__(classes="progress-chart")
        self.progress = progress

    def on_mount(self) -> None:
        super().on_mount()
        plt = self.plt
        points = self.progress.points
        criterion = self.progress.objective.criterion
        first = points[0].date
        xs = [(p.date - first).days / 7 for p in points]
        plt.plot(xs, [p.value for p in points], marker="braille", color="cyan")
        plt.scatter(xs, [p.value for p in points], marker="dot", color="cyan")
        plt.hline(criterion.threshold, color="orange")
        for change in self.progress.phase_changes():  # a vertical line and its name per phase change
            x = (change.since - first).days / 7
            plt.vline(x, color="gray")
            plt.text(change.phase, x, max(p.value for p in points), color="gray")
        if criterion.metric.startswith(("percent", "sync")):
            plt.ylim(0, 100)
        ticks = sorted({0, len(points) // 2, len(points) - 1})
        plt.xticks([xs[i] for i in ticks], [points[i].date.isoformat() for i in ticks])
        plt.ylabel(f"{criterion.metric.replace('_', ' ')} (criterion in orange)")


class ReviewScreen(CompanionScreen):
    """Sessions, notes, progress and reports for one client at a time."""

    HELP_TITLE = "review"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "open_note", "Open note"),
        Binding("w", "write_report", "Write report"),
        Binding(
            "h",
            "set_phase",
            "Phase",
            tooltip="Put an objective in baseline, intervention, probe, ... from today",
        ),
        Binding("1", "tab('sessions')", "Sessions tab", show=False),
        Binding("2", "tab('progress')", "Progress tab", show=False),
        Binding("3", "tab('report')", "Report tab", show=False),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, client_id: int | None = None) -> None:
        super().__init__()
        self.client_id = client_id
        self.clients: list[Client] = []
        self.sessions: list[Session] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="review-body"):
            with Vertical(id="review-clients"):
                yield Label("Clients", classes="panel-title")
                yield OptionList(id="review-client-list")
            with TabbedContent(id="review-tabs", initial="sessions"):
                with TabPane("1 Sessions", id="sessions"):
                    yield DataTable(id="session-table", cursor_type="row", zebra_stripes=True)
                    yield VerticalScroll(Static("", id="session-detail"), id="session-detail-scroll")
                with TabPane("2 Progress", id="progress"):
                    yield VerticalScroll(id="charts")
                with TabPane("3 Report", id="report"):
                    yield Label(
                        "Quarterly progress report (PDF with a chart per objective)", classes="panel-title"
                    )
                    with Horizontal(classes="report-dates"):
                        yield Input(id="report-from", placeholder="from YYYY-MM-DD")
                        yield Input(id="report-to", placeholder="to YYYY-MM-DD")
                    yield Button("Write report (w)", id="write-report", variant="primary")
                    yield Static("", id="report-result", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Review"
        end = today(self.companion.clock)
        self.query_one("#report-from", Input).value = (end - timedelta(weeks=REPORT_WEEKS)).isoformat()
        self.query_one("#report-to", Input).value = end.isoformat()
        table = self.query_one("#session-table", DataTable)
        table.add_columns("Date", "Min", "Setting", "Interventions", "Note")
        self.clients = self.services.record.caseload.clients()
        listing = self.query_one("#review-client-list", OptionList)
        listing.add_options([Option(Text(c.display_name), id=str(c.id)) for c in self.clients])  # as typed
        index = next((i for i, c in enumerate(self.clients) if c.id == self.client_id), 0)
        if self.clients:
            listing.highlighted = index
        listing.focus()

    @property
    def client(self) -> Client | None:
        index = self.query_one("#review-client-list", OptionList).highlighted
        return self.clients[index] if index is not None and index < len(self.clients) else None

    @on(OptionList.OptionHighlighted, "#review-client-list")
    def _client_changed(self) -> None:
        client = self.client
        if client is not None:
            self.sub_title = client.display_name
            self.load_client(client.id)

    @work(thread=True, exclusive=True, group="review")
    def load_client(self, client_id: int) -> None:
        record = self.services.record
        sessions = list(reversed(record.sessions.sessions(client_id)))
        notes = {s.id: record.notes.note(s.id, client_id) for s in sessions}
        progress = record.progress.client_progress(client_id)
        self.app.call_from_thread(self.show_client, sessions, notes, progress)

    def show_client(
        self, sessions: list[Session], notes: dict[int, SessionNote], progress: list[ObjectiveProgress]
    ) -> None:
        self.sessions = sessions
        table = self.query_one("#session-table", DataTable)
        table.clear()
        titles = self.services.titles
        for session in sessions:
            note = notes[session.id]
            state = "final" if note.finalised else "draft" if note.updated_at else "—"
            minutes = session.duration_minutes
            table.add_row(  # as Text: a string cell is read as markup
                session.date.isoformat(),
                f"{minutes:.0f}" if minutes is not None else "open",
                Text(session.setting),
                Text(", ".join(plan_label(p, titles) for p in session.plan_ids)),
                state,
                key=str(session.id),
            )
        if not sessions:
            self.query_one("#session-detail", Static).update("No sessions yet.")
        charts = self.query_one("#charts", VerticalScroll)
        charts.remove_children()
        for item in progress:
            heading = Text(item.objective.description, style="bold")
            heading.append(f"\n{progress_line(item)}\n{progress_sentence(item)}", style="dim")
            charts.mount(Static(heading, classes="chart-title"))
            if item.points:
                charts.mount(ProgressChart(item))
        if not progress:
            charts.mount(Static("No objectives yet: add them on the Today screen (o)."))

    @on(DataTable.RowHighlighted, "#session-table")
    def _session_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.load_session(int(event.row_key.value))

    @work(thread=True, exclusive=True, group="session-detail")
    def load_session(self, session_id: int) -> None:
        record = self.services.record
        session = record.sessions.session(session_id)
        events = tuple(record.events.session_events(session_id))
        notes = tuple(
            (record.caseload.client(c).display_name, record.notes.note(session_id, c))
            for c in session.client_ids
        )
        hierarchy = record.caseload.prompt_hierarchy(session.client_ids[0])
        objectives = {o.id: o.description for c in session.client_ids for o in record.caseload.objectives(c)}
        agreement = tuple(
            f"{objectives.get(a.objective_id, 'objective')}: {a.describe()}"
            for a in record.sessions.agreement(session_id)
        )
        detail = SessionDetail(session, events, notes, hierarchy, agreement)
        self.app.call_from_thread(self.show_session, detail)

    def show_session(self, detail: SessionDetail) -> None:
        text = Text()
        for name, note in detail.notes:
            state = "finalised" if note.finalised else "draft" if note.updated_at else "not written yet (n)"
            text.append(f"Note — {name} ({state})\n", style="bold")
            if note.updated_at:
                text.append(note_text(note) + "\n\n")
        if detail.agreement:
            text.append("Inter-observer agreement (second observer)\n", style="bold")
            text.append("\n".join(detail.agreement) + "\n\n")
        text.append(f"Events ({len(detail.events)})\n", style="bold")
        for event in detail.events:
            text.append(f"{local_time(event.wall_time)}  ", style="dim")
            text.append(describe(event, detail.hierarchy) + "\n")
        self.query_one("#session-detail", Static).update(text)

    # -- actions -------------------------------------------------------------------------------------
    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_open_note(self) -> None:
        table = self.query_one("#session-table", DataTable)
        if not self.sessions or table.cursor_row is None or table.cursor_row >= len(self.sessions):
            self.notify("Choose a session first.", severity="warning")
            return
        self.companion.open_note(self.sessions[table.cursor_row].id)

    @on(Button.Pressed, "#write-report")
    def action_write_report(self) -> None:
        client = self.client
        if client is None:
            return
        try:
            start = date.fromisoformat(self.query_one("#report-from", Input).value.strip())
            end = date.fromisoformat(self.query_one("#report-to", Input).value.strip())
        except ValueError:
            self.notify("Dates must look like 2025-03-31.", title="Report not written", severity="error")
            return
        record, titles = self.services.record, self.services.titles
        self.query_one("#report-result", Static).update("Writing the report…")

        def write() -> Path:
            report = build_report(record, client.id, start, end, titles=titles)
            target = exports_dir(record.data_dir) / report_file_name(report)
            return write_private(target, report_pdf(report, titles))

        def written(path: Path) -> None:
            self.query_one("#report-result", Static).update(f"Written to {path}")
            self.notify(f"Progress report written to {path}", timeout=12)

        self.companion.run_io(write, written, "The report was not written")

    def action_set_phase(self) -> None:
        """An objective's phase from today on (baseline before teaching, maintenance after mastery, ...):
        charts draw the change, and only intervention and probe sessions count toward mastery."""
        client = self.client
        if client is None:
            return
        record = self.services.record
        objectives = record.caseload.objectives(client.id)
        if not objectives:
            self.notify("No objectives yet: add them on the Today screen (o).", severity="warning")
            return
        day = today(self.companion.clock)

        def objective_chosen(objective_id: int | None) -> None:
            if objective_id is None:
                return

            def phase_chosen(phase: str | None) -> None:
                if phase is None:
                    return
                self.companion.run_io(
                    lambda: record.caseload.set_phase(objective_id, phase, day),
                    lambda _: self.load_client(client.id),
                    "The phase was not saved",
                )

            phases = [(f"{phase} from {day.isoformat()}", phase) for phase in PHASES]
            self.app.push_screen(Pick("Which phase?", phases), phase_chosen)

        choices = [(escape(o.description), o.id) for o in objectives]
        self.app.push_screen(Pick("Phase of which objective?", choices), objective_chosen)

    def action_back(self) -> None:
        self.dismiss(None)
