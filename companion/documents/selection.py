"""Choosing what a document covers (a session, or a client over dates) and de-identifying it.

Collecting the data once, here, means the Markdown, PDF, CSV and JSON exports and the quarterly report
all show exactly the same sessions and events, and de-identification is applied in one place: names
become pseudonyms (also inside free text), birth years and song file paths are left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from companion.documents.soap import draft_note
from companion.record import Client, Event, Note, Record, Session, SessionNote, SessionSummary
from companion.record.billing import BilledLine
from companion.record.model import Addendum, Therapist


@dataclass(frozen=True)
class SessionDocument:
    session: Session
    summary: SessionSummary
    events: tuple[Event, ...]
    notes: tuple[SessionNote, ...]  # one per client covered (saved, or drafted from the data)
    addenda: tuple[Addendum, ...] = ()
    billed: tuple[BilledLine, ...] | str = ()
    """The codes with their units, or why the units cannot be worked out yet."""


@dataclass(frozen=True)
class Selection:
    """The data one export or report covers, already de-identified when asked."""

    title: str
    clients: tuple[Client, ...]
    sessions: tuple[SessionDocument, ...]
    objective_names: dict[int, str]
    deidentified: bool
    start: date | None = None
    end: date | None = None
    therapist: Therapist = field(default_factory=Therapist)

    def client_name(self, client_id: int | None) -> str:
        if client_id is None:
            return "group"
        return next((c.display_name for c in self.clients if c.id == client_id), f"client {client_id}")


_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DAYS = "(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day"
_TIME = r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?"
_SAFE_HARBOR: tuple[tuple[re.Pattern[str], str], ...] = (
    # a date or timestamp (2025-01-06, 2025-01-06T16:00:00+00:00, 2025-01-06 16:00) -> its year
    (re.compile(rf"\b(\d{{4}})-\d{{2}}-\d{{2}}{_TIME}"), r"\1"),
    (re.compile(rf"\b(?:{_DAYS},? )?\d{{1,2}} (?:{_MONTHS}),? (\d{{4}})\b"), r"\1"),  # Sunday 5 May 2026
    (re.compile(rf"\b(?:{_MONTHS}) \d{{1,2}},? (\d{{4}})\b"), r"\1"),  # December 5, 2026
    (re.compile(r"\b\d{1,2}/\d{1,2}/(\d{4})\b"), r"\1"),  # 12/05/2026
    # an age over 89 ("age 93", "93-year-old", "aged 101") -> 90 or older
    (re.compile(r"\b(age[d]?\s+)(?:9\d|1\d\d)\b", re.IGNORECASE), r"\g<1>90 or older"),
    (re.compile(r"\b(?:9\d|1\d\d)[- ]year[- ]old\b", re.IGNORECASE), "90 or older"),
)


DEIDENTIFIED = (
    "De-identified (HIPAA Safe Harbor): pseudonyms, no birth years, dates reduced to the year, "
    "ages over 89 as 90 or older."
)


def safe_harbor(text: str) -> str:
    """HIPAA Safe Harbor on text already free of names: every date reduced to its year, ages over 89
    grouped as 90 or older. Applied to the whole of a de-identified export, headers and data alike."""
    for pattern, replacement in _SAFE_HARBOR:
        text = pattern.sub(replacement, text)
    return text


def pseudonym(client: Client) -> str:
    return client.pseudonym or f"Client {client.id}"


def _scrubber(clients: Sequence[Client]) -> list[tuple[re.Pattern[str], str]]:
    return [
        (re.compile(rf"\b{re.escape(c.display_name)}\b", re.IGNORECASE), pseudonym(c))
        for c in sorted(clients, key=lambda c: -len(c.display_name))
    ]


def _scrub(text: str, rules: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, name in rules:
        text = pattern.sub(name, text)
    return text


def _deidentify_client(client: Client) -> Client:
    return replace(
        client,
        display_name=pseudonym(client),
        birth_year=None,
        preferred_songs=(),
        settings={},
        population=safe_harbor(client.population),
    )


def _deidentify_event(event: Event, rules: list[tuple[re.Pattern[str], str]]) -> Event:
    if isinstance(event.payload, Note):
        return replace(event, payload=Note(_scrub(event.payload.text, rules)))
    return event


def _deidentify_note(note: SessionNote, rules: list[tuple[re.Pattern[str], str]]) -> SessionNote:
    return replace(
        note,
        subjective=_scrub(note.subjective, rules),
        objective=_scrub(note.objective, rules),
        observations=_scrub(note.observations, rules),
        assessment=_scrub(note.assessment, rules),
        plan=_scrub(note.plan, rules),
        home_report=_scrub(note.home_report, rules),
    )


def _deidentify_summary(summary: SessionSummary, rules: list[tuple[re.Pattern[str], str]]) -> SessionSummary:
    groups = tuple(replace(g, notes=tuple(_scrub(n, rules) for n in g.notes)) for g in summary.groups)
    return replace(summary, groups=groups)


def _document(record: Record, session: Session, client_ids: Sequence[int]) -> SessionDocument:
    covered = [c for c in session.client_ids if c in client_ids]
    events = [
        e for e in record.events.session_events(session.id) if e.client_id is None or e.client_id in covered
    ]
    notes = tuple(
        saved if (saved := record.notes.note(session.id, c)).updated_at else draft_note(record, session.id, c)
        for c in covered
    )
    addenda = tuple(a for c in covered for a in record.notes.addenda(session.id, c))
    billed = record.billing.billed(session.id)
    billing = billed if isinstance(billed, str) else tuple(billed)
    return SessionDocument(
        session, record.progress.summary(session.id), tuple(events), notes, addenda, billing
    )


def select(
    record: Record,
    *,
    session_id: int | None = None,
    client_id: int | None = None,
    start: date | None = None,
    end: date | None = None,
    deidentify: bool = False,
) -> Selection:
    """One session (all its clients) or one client's sessions between two dates (inclusive)."""
    if session_id is not None:
        sessions = [record.sessions.session(session_id)]
        client_ids: list[int] = list(sessions[0].client_ids)
    elif client_id is not None:
        sessions = record.sessions.sessions(client_id, start, end)
        client_ids = [client_id]
    else:
        raise ValueError("choose a session, or a client (with an optional date range)")
    clients = [record.caseload.client(c) for c in client_ids]
    documents = [_document(record, s, client_ids) for s in sessions]
    objectives = {
        o.id: o.description for c in client_ids for o in record.caseload.objectives(c, include_archived=True)
    }
    if deidentify:
        rules = _scrubber(clients)
        documents = [
            replace(
                d,
                summary=_deidentify_summary(d.summary, rules),
                events=tuple(_deidentify_event(e, rules) for e in d.events),
                notes=tuple(_deidentify_note(n, rules) for n in d.notes),
                addenda=tuple(replace(a, text=_scrub(a.text, rules)) for a in d.addenda),
                session=replace(d.session, present=_scrub(d.session.present, rules)),
            )
            for d in documents
        ]
        clients = [_deidentify_client(c) for c in clients]
    names = ", ".join(c.display_name for c in clients)
    if session_id is not None:
        title = f"Session {session_id} - {names} - {sessions[0].date.isoformat()}"
    else:
        span = f"{start.isoformat() if start else 'start'} to {end.isoformat() if end else 'today'}"
        title = f"{names} - sessions {span}"
    return Selection(
        title, tuple(clients), tuple(documents), objectives, deidentify, start, end, record.notes.therapist()
    )
