"""Exports of a selection of sessions as Markdown, CSV (one row per event), JSON or PDF.

Files are written 0600 like the database: an export is health information too, and only leaves the
machine when the therapist sends it.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import errno
import io
import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from companion.documents.paperwork import (
    addendum_lines,
    diagnoses_line,
    session_particulars,
    signature_line,
    therapist_line,
)
from companion.documents.pdf import PdfDocument
from companion.documents.selection import DEIDENTIFIED, Selection, safe_harbor
from companion.documents.soap import (
    objective_with_observations,
    session_header,
    subjective_with_home_practice,
)
from companion.paths import PRIVATE_FILE_MODE
from companion.record import SessionNote
from companion.record.payload_json import PAYLOAD_TYPES, payload_to_json

Format = Literal["md", "pdf", "csv", "json"]
FORMATS: tuple[str, ...] = ("md", "pdf", "csv", "json")

EVENT_COLUMNS = ["event_id", "session_id", "session_date", "client", "objective_id", "objective", "plan_id"]
EVENT_COLUMNS += ["kind", "wall_time", "offset_s"]
PAYLOAD_COLUMNS = [
    name
    for name in dict.fromkeys(f.name for cls in PAYLOAD_TYPES.values() for f in dataclasses.fields(cls))
    if name not in EVENT_COLUMNS  # an intervention's plan_id is already the event's plan_id
]


def _released(selection: Selection, text: str) -> str:
    """The text as it may leave the machine: a de-identified export under Safe Harbor throughout."""
    return safe_harbor(text) if selection.deidentified else text


def _soap(note: SessionNote) -> tuple[tuple[str, str], ...]:
    return (
        ("Subjective", subjective_with_home_practice(note)),
        ("Objective", objective_with_observations(note)),
        ("Assessment", note.assessment),
        ("Plan", note.plan),
    )


def _client_lines(selection: Selection, client_id: int) -> list[str]:
    client = next((c for c in selection.clients if c.id == client_id), None)
    found = diagnoses_line(client) if client is not None else None
    return [found] if found else []


def to_markdown(selection: Selection) -> str:
    """A readable document: each session's header, SOAP note(s) and the data behind them, with the
    therapist, time and billing, each note's signature and its addenda."""
    out = [f"# {selection.title}", "", therapist_line(selection.therapist), ""]
    if selection.deidentified:
        out += [f"*{DEIDENTIFIED}*", ""]
    for document in selection.sessions:
        out += [f"## {session_header(document.summary)}", ""]
        out += [*session_particulars(document, not selection.deidentified), ""]
        for note in document.notes:
            out += [
                f"### {selection.client_name(note.client_id)}",
                "",
                *_client_lines(selection, note.client_id),
            ]
            for heading, text in _soap(note):
                out += [f"**{heading}**", "", text.strip() or "-", ""]
            out += [f"*{signature_line(note)}*", ""]
            out += [f"- {line}" for line in addendum_lines(document, note.client_id)]
    return _released(selection, "\n".join(out).rstrip() + "\n")


def event_rows(selection: Selection) -> list[dict[str, Any]]:
    rows = []
    for document in selection.sessions:
        for event in document.events:
            row: dict[str, Any] = {
                "event_id": event.id,
                "session_id": event.session_id,
                "session_date": document.session.date.isoformat(),
                "client": selection.client_name(event.client_id),
                "objective_id": event.objective_id if event.objective_id is not None else "",
                "objective": selection.objective_names.get(event.objective_id or 0, ""),
                "plan_id": event.plan_id or "",
                "kind": event.kind,
                "wall_time": event.wall_time,
                "offset_s": event.offset_s,
            }
            for key, value in payload_to_json(event.payload).items():
                row[key] = json.dumps(value) if isinstance(value, list | dict | tuple) else value
            rows.append({key: inert(value) for key, value in row.items()})
    return rows


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: object) -> object:
    """A text cell a spreadsheet would run as a formula (=HYPERLINK(...) in a note or a name) gets a
    leading apostrophe, as OWASP advises; numbers, including negative ones, stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(selection: Selection) -> str:
    """One row per (live) event, payload fields as columns, for spreadsheets and statistics."""
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=EVENT_COLUMNS + PAYLOAD_COLUMNS, restval="", lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(event_rows(selection))
    return _released(selection, buffer.getvalue())


def _json_default(value: object) -> object:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, tuple | set):
        return list(value)
    raise TypeError(f"cannot export {type(value).__name__}")


def to_json(selection: Selection) -> str:
    """Everything in the selection, machine-readable: clients, sessions, summaries, events, notes."""
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "title": selection.title,
        "deidentified": selection.deidentified,
        "clients": [dataclasses.asdict(c) for c in selection.clients],
        "objectives": {str(k): v for k, v in selection.objective_names.items()},
        "sessions": [
            {
                "session": dataclasses.asdict(d.session),
                "summary": dataclasses.asdict(d.summary)["groups"],
                "events": [
                    {**dataclasses.asdict(e), "kind": e.kind, "payload": payload_to_json(e.payload)}
                    for e in d.events
                ],
                "notes": [dataclasses.asdict(n) for n in d.notes],
            }
            for d in selection.sessions
        ],
    }
    return _released(selection, json.dumps(document, indent=2, default=_json_default, ensure_ascii=False))


def to_pdf(selection: Selection) -> bytes:
    """The Markdown document's content as a PDF."""
    pdf = PdfDocument(selection.title, safe_harbor if selection.deidentified else None)
    pdf.paragraph(therapist_line(selection.therapist))
    if selection.deidentified:
        pdf.paragraph(DEIDENTIFIED, italic=True)
    for document in selection.sessions:
        pdf.heading(session_header(document.summary), level=2)
        for line in session_particulars(document, not selection.deidentified):
            pdf.paragraph(line)
        for note in document.notes:
            pdf.heading(selection.client_name(note.client_id), level=3)
            for line in _client_lines(selection, note.client_id):
                pdf.paragraph(line)
            for label, text in _soap(note):
                pdf.labelled(label, text.strip() or "-")
            pdf.paragraph(signature_line(note), italic=True)
            addenda = addendum_lines(document, note.client_id)
            if addenda:
                pdf.bullets("Addenda", addenda)
    return pdf.output()


def render(selection: Selection, fmt: Format) -> bytes:
    if fmt == "pdf":
        return to_pdf(selection)
    text = {"md": to_markdown, "csv": to_csv, "json": to_json}[fmt](selection)
    return text.encode("utf-8")


class ExportNotWritten(ValueError):
    """The export could not be written; the message names the file, the cause and the fix (a ValueError
    so the app shows it like any refused input)."""


def file_slug(text: str) -> str:
    """A file-name part from a title or a name: letters and digits kept (accents too), the rest hyphens."""
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")[:60] or "export"


def write_private(path: Path, content: bytes) -> Path:
    """Write `content` to `path` readable by the owner only, whole or not at all.

    Written to a private temporary file beside it, flushed to disk and renamed into place: a full disk or
    a refused folder leaves no empty or half file behind (an old export of the same name stays), and the
    error names the cause and the fix."""
    temp = path.with_name(f".{path.name}.part-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, PRIVATE_FILE_MODE)
        try:
            os.fchmod(fd, PRIVATE_FILE_MODE)
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        if exc.errno == errno.ENOSPC:
            cause, fix = "the disk is full", "free some space or choose another folder with --out"
        elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            cause, fix = "the folder is not writable for you", "choose a folder you can write with --out"
        elif exc.errno in (errno.ENOTDIR, errno.EISDIR, errno.ENOENT, errno.EEXIST):
            cause, fix = "that is not a file in a folder", "give a file path such as --out ~/ava-notes.pdf"
        else:
            cause, fix = exc.strerror or str(exc), "check the disk and the path"
        raise ExportNotWritten(f"{path} was not written: {cause}; {fix}") from exc
    return path
