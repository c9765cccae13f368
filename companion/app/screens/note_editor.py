"""The SOAP note editor that opens when a session ends, pre-filled from the data.

Objective is written from the logged events (read-only here: it is regenerated from the data so it can
never disagree with them), and the therapist's own observations sit under it, kept apart so a redraft
never touches them; Subjective, Assessment (pre-filled with progress to date) and Plan are typed.
Save keeps a draft; Finalise signs the note (name, credential, time) so it is never rewritten. The
session's billing codes, who else was present and how it was held (in person or telehealth) are edited
here too (saved with the note; they belong to the session, so they stay
editable after the note is finalised, a change then kept in an audit trail). Export writes the session as
Markdown, PDF, CSV or JSON (optionally de-identified) into the private exports folder. In a practice
with staff, a signed-in supervisor co-signs a finalised note here (their review, kept beside the
signature); nobody else is offered the key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar, TypedDict

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Footer, Header, Input, Label, Select, Static, TabbedContent, TabPane, TextArea

from companion.app.screens.base import CompanionScreen
from companion.app.screens.dialogs import Confirm, FieldsPrompt, Pick
from companion.documents.export import Format, render, write_private
from companion.documents.selection import select
from companion.documents.soap import draft_note, session_header
from companion.paths import exports_dir
from companion.record import Client, SessionNote
from companion.record.billing import parse_billing_codes
from companion.record.model import HOME_PRACTICE, MODALITIES, Therapist

SECTIONS = (
    ("subjective", "S — Subjective: what the client and carers reported"),
    ("objective", "O — Objective: written from the session data"),
    ("observations", "O — Observations: what you saw (kept when the data is redrafted)"),
    ("assessment", "A — Assessment: progress to date is pre-filled; interpret it"),
    ("plan", "P — Plan: next session, home practice, changes"),
)


class TypedParts(TypedDict):
    """Every part of a note the therapist types, by name (the note's own field names)."""

    subjective: str
    objective: str
    observations: str
    assessment: str
    plan: str
    home_practice: str
    home_report: str


def typed_parts(note: SessionNote) -> TypedParts:
    """The typed parts of a note as saved, to compare with what the screen holds now."""
    return TypedParts(
        subjective=note.subjective,
        objective=note.objective,
        observations=note.observations,
        assessment=note.assessment,
        plan=note.plan,
        home_practice=note.home_practice,
        home_report=note.home_report,
    )


EXPORTS: tuple[tuple[str, tuple[Format, bool]], ...] = (
    ("Markdown (.md)", ("md", False)),
    ("PDF", ("pdf", False)),
    ("CSV, one row per event", ("csv", False)),
    ("JSON", ("json", False)),
    ("Markdown, de-identified", ("md", True)),
    ("PDF, de-identified", ("pdf", True)),
)


@dataclass(frozen=True)
class NoteDraft:
    client: Client
    note: SessionNote


def home_practice_row(draft: NoteDraft) -> Horizontal:
    """Home carry-over since the last session, as the carers report it (counted in the quarterly report)."""
    note, client_id = draft.note, draft.client.id
    answers = [("not asked", ""), *((answer, answer) for answer in HOME_PRACTICE)]
    practice = Select(answers, id=f"home-practice-{client_id}", allow_blank=False, value=note.home_practice)
    said = Input(note.home_report, id=f"home-report-{client_id}", placeholder="what the carers said, briefly")
    practice.disabled = said.disabled = note.finalised
    return Horizontal(Label("Home practice", classes="home-label"), practice, said, classes="home-row")


def final_line(note: SessionNote) -> str:
    """What a finalised note says under its fields: it is kept as it is, and who co-signed it."""
    cosigned = f" Co-signed by {note.cosigned_by} on {note.cosigned_at}." if note.cosigned_at else ""
    return "This note is finalised and can no longer be changed." + cosigned


class SoapScreen(CompanionScreen):
    """Edit and save the SOAP note(s) of one session: one tab per client in a group."""

    HELP_TITLE = "SOAP note"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s,f2", "save", "Save"),
        Binding("ctrl+f", "finalise", "Finalise"),
        Binding("ctrl+o", "export", "Export"),
        Binding("ctrl+g", "cosign", "Co-sign", tooltip="Co-sign the finalised note shown (supervisors)"),
        Binding("escape", "done", "Done"),
    ]

    def __init__(self, session_id: int, done: Callable[[], object]) -> None:
        super().__init__()
        self.session_id = session_id
        self.done = done
        self.drafts: list[NoteDraft] = []
        self.saved_texts: dict[int, TypedParts] = {}
        self.saved_cpt = ""
        self.saved_details: tuple[str, str] = ("", MODALITIES[0])

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Writing the note from the session data…", id="note-header", markup=False)
        with Horizontal(id="cpt-row"):
            yield Label("Billing codes", id="cpt-label")
            # Focus keeps the codes typed (no select-all for the next key to replace); ":" gives minutes.
            yield Input(
                id="cpt",
                placeholder="e.g. 97530-GP:30, 97112-GP:15 or G0176 (optional)",
                restrict=r"[0-9A-Za-z ,;:\-]*",
                select_on_focus=False,
            )
        with Horizontal(id="details-row"):
            yield Label("Present", id="present-label")
            yield Input(id="present", placeholder="who else was there, e.g. mother; OT co-treating")
            yield Label("Held", id="modality-label")
            yield Select([(m, m) for m in MODALITIES], id="modality", allow_blank=False)
        yield TabbedContent(id="notes")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Session note"
        self.load()

    @work(thread=True, exclusive=True)
    def load(self) -> None:
        record, titles = self.services.record, self.services.titles
        session = record.sessions.session(self.session_id)
        drafts = [
            NoteDraft(record.caseload.client(c), draft_note(record, self.session_id, c, titles))
            for c in session.client_ids
        ]
        header = session_header(record.progress.summary(self.session_id), titles)
        details = (session.present, session.modality)
        self.app.call_from_thread(self.show, header, drafts, ", ".join(session.cpt_codes), details)

    def show(
        self,
        header: str,
        drafts: list[NoteDraft],
        cpt: str = "",
        details: tuple[str, str] = ("", MODALITIES[0]),
    ) -> None:
        self.drafts = drafts
        self.query_one("#note-header", Static).update(header)
        self.query_one("#cpt", Input).value = self.saved_cpt = cpt
        self._show_details(details)
        tabs = self.query_one(TabbedContent)
        tabs.set_class(len(drafts) == 1, "-single")
        for draft in drafts:
            fields: list[Widget] = []
            for field, title in SECTIONS:
                area = TextArea(getattr(draft.note, field), id=f"{field}-{draft.client.id}", soft_wrap=True)
                area.read_only = field == "objective" or draft.note.finalised
                fields += [Label(title, classes="soap-title"), area]
                if field == "subjective":
                    fields.append(home_practice_row(draft))
            if draft.note.finalised:
                fields.append(
                    Static(final_line(draft.note), id=f"final-{draft.client.id}", classes="soap-final")
                )
            scroll = VerticalScroll(*fields)
            scroll.can_focus = False  # Tab goes from field to field, never to the invisible scroll area
            tabs.add_pane(TabPane(Content(draft.client.display_name), scroll, id=f"note-{draft.client.id}"))
            self.saved_texts[draft.client.id] = typed_parts(draft.note)
        if drafts:
            self.call_after_refresh(self._focus_first)

    def _focus_first(self) -> None:
        self.query_one(f"#subjective-{self.drafts[0].client.id}", TextArea).focus(scroll_visible=False)

    def _texts(self, client_id: int) -> TypedParts:
        """The client's note as typed on the screen now."""

        def area(field: str) -> str:
            return self.query_one(f"#{field}-{client_id}", TextArea).text

        practice = self.query_one(f"#home-practice-{client_id}", Select).value
        return TypedParts(
            subjective=area("subjective"),
            objective=area("objective"),
            observations=area("observations"),
            assessment=area("assessment"),
            plan=area("plan"),
            home_practice=practice if isinstance(practice, str) else "",
            home_report=self.query_one(f"#home-report-{client_id}", Input).value.strip(),
        )

    def _edited(self, finalise: bool = False) -> list[SessionNote]:
        notes = []
        for draft in self.drafts:
            if draft.note.finalised:
                continue
            notes.append(replace(draft.note, **self._texts(draft.client.id), finalised=finalise))
        return notes

    @property
    def unsaved(self) -> bool:
        return self._session_changed() or any(
            self._texts(d.client.id) != self.saved_texts.get(d.client.id) for d in self.drafts
        )

    def _session_changed(self) -> bool:
        """Whether the session's own fields (codes, who was present, modality) differ from the record."""
        return self._cpt_text() != self.saved_cpt or self._details() != self.saved_details

    def _details(self) -> tuple[str, str]:
        """(who else was present, modality) as shown."""
        modality = self.query_one("#modality", Select).value
        present = self.query_one("#present", Input).value.strip()
        return present, modality if isinstance(modality, str) else MODALITIES[0]

    def _show_details(self, details: tuple[str, str]) -> None:
        self.saved_details = details
        self.query_one("#present", Input).value, self.query_one("#modality", Select).value = details

    def _cpt_text(self) -> str:
        return self.query_one("#cpt", Input).value.strip()

    def _cpt_codes(self) -> tuple[str, ...] | ValueError | None:
        """The codes typed if they changed (None if not), or why they are not CPT codes."""
        typed = self._cpt_text()
        if typed == self.saved_cpt:
            return None
        try:
            return parse_billing_codes(typed)
        except ValueError as problem:
            return problem

    # -- actions -------------------------------------------------------------------------------------
    def action_save(self, finalise: bool = False, then: Callable[[], object] | None = None) -> None:
        notes, codes = self._edited(finalise), self._cpt_codes()
        details = self._details() if self._details() != self.saved_details else None
        if isinstance(codes, ValueError):  # the notes are saved; the screen stays open on the codes typed
            self.notify(f"{codes}.", title="CPT codes not saved", severity="error", timeout=12)
            codes, then = None, None
            if not notes and details is None:
                return
        if not notes and codes is None and details is None:
            self.notify("Nothing to save: the note is finalised.")
            return
        record, session_id, titles = self.services.record, self.session_id, self.services.titles

        def write() -> str:
            for note in notes:
                record.notes.save_note(note)
            if codes is not None:
                record.billing.set_cpt_codes(session_id, codes)
            if details is not None:
                record.sessions.describe_session(session_id, *details)
            return session_header(record.progress.summary(session_id), titles)

        def saved(header: str) -> None:
            self.query_one("#note-header", Static).update(header)
            if codes is not None:
                self.query_one("#cpt", Input).value = self.saved_cpt = ", ".join(codes)
            if details is not None:
                self._show_details(details)
            for draft in self.drafts:
                self.saved_texts[draft.client.id] = self._texts(draft.client.id)
            if finalise:
                self.drafts = [replace(d, note=replace(d.note, finalised=True)) for d in self.drafts]
                for area in self.query(TextArea):
                    area.read_only = True
                for home in self.query(".home-row > Select, .home-row > Input"):
                    home.disabled = True
            self.notify("Note finalised." if finalise else "Note saved.")
            if then is not None:
                then()

        self.companion.run_io(write, saved, "The note was not saved")

    def action_finalise(self) -> None:
        """Confirm, then sign: a record with no signing therapist yet asks who signs first (kept for
        every later note; `companion profile` changes it)."""
        record = self.services.record

        def answer(yes: bool | None) -> None:
            if yes:
                self.companion.run_io(record.notes.therapist, ask_signer, "The note was not finalised")

        def ask_signer(therapist: Therapist) -> None:
            if therapist.signature:
                self.action_save(finalise=True)
                return
            fields = [("Your name, as you sign notes", "e.g. Jordan Rivera"), ("Credential", "e.g. MT-BC")]
            self.app.push_screen(FieldsPrompt("Who signs this note?", fields), signer_given)

        def signer_given(values: tuple[str, ...] | None) -> None:
            if values is not None:
                name, credential = values
                self.companion.run_io(
                    lambda: record.notes.set_therapist(name, credential),
                    lambda _: self.action_save(finalise=True),
                    "The note was not finalised",
                )

        self.app.push_screen(
            Confirm(
                "Finalise the note?",
                "A finalised note is signed with your name, credential and the time: it is kept exactly "
                "as it is and never rewritten; a late entry is an addendum.",
                "Finalise",
            ),
            answer,
        )

    def action_export(self) -> None:
        if self._edited() or self._session_changed():
            self.action_save(then=self._choose_export)
        else:
            self._choose_export()

    def _choose_export(self) -> None:
        def chosen(choice: tuple[Format, bool] | None) -> None:
            if choice is not None:
                self._export(*choice)

        self.app.push_screen(
            Pick("Export this session as", EXPORTS, hint="digit or Enter; Esc cancels"), chosen
        )

    def _export(self, fmt: Format, deidentify: bool) -> None:
        record = self.services.record
        session = record.sessions.session(self.session_id)
        suffix = "-deidentified" if deidentify else ""
        target = (
            exports_dir(record.data_dir)
            / f"session-{self.session_id}-{session.date.isoformat()}{suffix}.{fmt}"
        )

        def write() -> Path:
            chosen = select(record, session_id=self.session_id, deidentify=deidentify)
            return write_private(target, render(chosen, fmt))

        self.companion.run_io(
            write, lambda path: self.notify(f"Exported to {path}", timeout=12), "The export was not written"
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Co-sign is offered only to a signed-in supervisor (a solo practice has nobody to co-sign)."""
        if action == "cosign":
            services = self.companion.services
            who = services.record.staff.signed_in if services is not None else None
            return who is not None and who.role == "supervisor"
        return True

    def action_cosign(self) -> None:
        """Co-sign the note of the tab shown; the record refuses a draft, a note co-signed already, one the
        supervisor signed themselves, and anyone not a supervisor, each with its reason."""
        shown = self.query_one(TabbedContent).active
        draft = next((d for d in self.drafts if f"note-{d.client.id}" == shown), None)
        if draft is None:
            return
        if not draft.note.finalised:
            self.notify(
                "Only a finalised note is co-signed: its therapist finalises it first (ctrl+f).",
                severity="warning",
            )
            return
        record, session_id = self.services.record, self.session_id

        def cosigned(note: SessionNote) -> None:
            self.drafts = [replace(d, note=note) if d is draft else d for d in self.drafts]
            self.query_one(f"#final-{draft.client.id}", Static).update(final_line(note))
            self.notify(f"Co-signed by {note.cosigned_by}.")

        self.companion.run_io(
            lambda: record.notes.cosign(session_id, draft.client.id), cosigned, "The note was not co-signed"
        )

    def action_done(self) -> None:
        """Back (to today after a session, to the review otherwise); changes are saved first."""
        if self.unsaved and (self._edited() or self._session_changed()):
            self.action_save(then=self.done)
        else:
            self.done()
