"""The lines a note needs besides its SOAP text before a supervisor or payer accepts it.

Who wrote it (name, credential, NPI), when and how the session was held (time in and out, duration, in
person or telehealth, the setting, who else was present), the client's diagnoses, the billing codes with
their units, the electronic signature with its time and a supervisor's co-signature (or a plain DRAFT
mark), and the addenda written
after signing. The Markdown and PDF exports print the same lines.
"""

from __future__ import annotations

from datetime import datetime

from companion.documents.selection import SessionDocument
from companion.record import Client, SessionNote
from companion.record.model import Therapist


def local_time(stamp: str) -> str:
    """A stored UTC time as the therapist's local date and time, e.g. 2024-09-02 15:47."""
    return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")


def therapist_line(therapist: Therapist) -> str:
    if not therapist.signature:
        return "Therapist: not set (companion profile --name ... --credential ...)."
    return f"Therapist: {therapist.signature}" + (f", NPI {therapist.npi}." if therapist.npi else ".")


def session_particulars(document: SessionDocument, dates_shown: bool = True) -> list[str]:
    """Time in/out and duration, modality and setting, who was present, billing codes with units.
    Without `dates_shown` (a de-identified export) the times are left out, the duration kept."""
    session = document.session
    minutes = session.duration_minutes
    held = f"{session.modality}" + (f", {session.setting}" if session.setting else "")
    if minutes is None:
        timing = "Session not ended"
    elif dates_shown:
        timing = (
            f"Time in {local_time(session.started_at)}, time out {local_time(session.ended_at or '')[-5:]}"
        )
        timing += f" ({minutes:.0f} min)"
    else:
        timing = f"Duration {minutes:.0f} min"
    lines = [f"{timing}; {held}."]
    if session.present:
        lines.append(f"Present: {session.present}.")
    if session.cpt_codes:
        lines.append("Billing: " + billing_text(document) + ".")
    return lines


def billing_text(document: SessionDocument) -> str:
    if isinstance(document.billed, str):
        return f"{', '.join(document.session.cpt_codes)} (units not worked out: {document.billed})"
    return ", ".join(
        f"{line.code.text.split(':')[0]} x {line.units} unit{'s' if line.units != 1 else ''}"
        + (f" ({line.minutes} min)" if line.minutes is not None else "")
        for line in document.billed
    )


def diagnoses_line(client: Client) -> str | None:
    return f"Diagnoses (ICD-10-CM): {', '.join(client.diagnoses)}." if client.diagnoses else None


def signature_line(note: SessionNote) -> str:
    """The electronic signature, or a DRAFT mark a reader cannot miss."""
    if note.finalised and note.signed_at:
        npi = f" (NPI {note.signed_npi})" if note.signed_npi else ""
        signed = f"Electronically signed by {note.signed_by}{npi} on {local_time(note.signed_at)}."
        if note.cosigned_at:
            signed += f" Co-signed by {note.cosigned_by} on {local_time(note.cosigned_at)}."
        return signed
    if note.finalised:
        return "Finalised before signatures were kept (no signature on record)."
    return "DRAFT: not signed."


def addendum_lines(document: SessionDocument, client_id: int) -> list[str]:
    return [
        f"Addendum {local_time(a.written_at)}, signed {a.signed_by}: {a.text}"
        for a in document.addenda
        if a.client_id == client_id
    ]
