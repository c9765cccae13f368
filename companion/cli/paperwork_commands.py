"""The paperwork a supervisor and a payer ask for: who signs, late entries, who was present, diagnoses,
billing codes with their units.

`companion profile` sets the signing therapist (a note cannot be finalised unsigned); `companion notes
addendum` adds a dated, signed late entry to a finalised note, which itself is never rewritten;
`companion sessions describe` says who was present and how the session was held (in person or
telehealth); `companion sessions bill` sets the codes and prints their units by the 8-minute rule;
`companion clients diagnose` keeps a client's ICD-10-CM codes; `companion attendance` records and lists who
came, late or leaving early, who cancelled and who did not show.
"""

from __future__ import annotations

import click

from companion.cli.record_access import open_record, parse_day
from companion.cli.record_commands import clients, sessions
from companion.record.attendance import attendance_summary
from companion.record.billing import BilledLine
from companion.record.model import ATTENDANCE, CANCELLED_BY, MODALITIES


@click.command("profile")
@click.option("--name", help="Your name as you sign notes.")
@click.option("--credential", help="Your credential(s), e.g. MT-BC or MT-BC, NMT.")
@click.option("--npi", default="", help="Your National Provider Identifier (10 digits; optional).")
@click.pass_context
def profile(ctx: click.Context, name: str | None, credential: str | None, npi: str) -> None:
    """Show the signing therapist, or set it with --name and --credential."""
    with open_record(ctx) as record:
        if name is None and credential is None:
            found = record.notes.therapist()
        else:
            current = record.notes.therapist()
            found = record.notes.set_therapist(
                name if name is not None else current.name,
                credential if credential is not None else current.credential,
                npi or current.npi,
            )
    if not found.signature:
        click.echo('No signing therapist yet: companion profile --name "Your Name" --credential MT-BC')
        return
    click.echo(f"Notes are signed: {found.signature}" + (f" (NPI {found.npi})" if found.npi else ""))


@click.group()
def notes() -> None:
    """Late entries and a supervisor's co-signature on finalised notes."""


@notes.command("addendum")
@click.argument("session_id", type=int)
@click.argument("client")
@click.argument("text")
@click.pass_context
def notes_addendum(ctx: click.Context, session_id: int, client: str, text: str) -> None:
    """Add TEXT as a signed, dated addendum to CLIENT's finalised note of SESSION_ID."""
    with open_record(ctx) as record:
        addendum = record.notes.add_addendum(session_id, record.caseload.find_client(client).id, text)
    click.echo(f"Addendum of {addendum.written_at} signed {addendum.signed_by}.")


@sessions.command("describe")
@click.argument("session_id", type=int)
@click.option("--present", help="Who else was there, e.g. 'mother; OT co-treating'.")
@click.option("--modality", type=click.Choice(MODALITIES), help="In person or telehealth (video/audio).")
@click.pass_context
def sessions_describe(ctx: click.Context, session_id: int, present: str | None, modality: str | None) -> None:
    """Say who was present and how the session was held, as the note and the claim state it."""
    with open_record(ctx) as record:
        session = record.sessions.describe_session(session_id, present, modality)
    click.echo(
        f"Session {session.id}: {session.modality}"
        + (f", present: {session.present}" if session.present else "")
    )


def billed_text(lines: list[BilledLine] | str) -> str:
    """One line per code with its units, or why they cannot be worked out."""
    if isinstance(lines, str):
        return f"Units not worked out: {lines}."
    return "\n".join(
        f"{line.code.text}: {line.units} unit{'s' if line.units != 1 else ''}"
        + (f" ({line.minutes} min, 8-minute rule)" if line.minutes is not None else " (per session)")
        for line in lines
    )


@sessions.command("bill")
@click.argument("session_id", type=int)
@click.argument("codes", required=False)
@click.pass_context
def sessions_bill(ctx: click.Context, session_id: int, codes: str | None) -> None:
    """Set the session's billing CODES ("97530-GP:30, 97112-GP:15" or "G0176"), then show their units."""
    with open_record(ctx) as record:
        if codes is not None:
            try:
                record.billing.set_cpt_codes(
                    session_id, [codes]
                )  # parsed there; a wrong code is a ValueError
            except ValueError as exc:
                raise click.BadParameter(str(exc)) from None
        click.echo(billed_text(record.billing.billed(session_id)))
        for change in record.billing.billing_audit(session_id):
            before, after = ", ".join(change.before) or "none", ", ".join(change.after) or "none"
            click.echo(
                f"Changed after signing on {change.changed_at} by {change.changed_by}: {before} -> {after}"
            )


@clients.command("diagnose")
@click.argument("client")
@click.argument("codes", nargs=-1)
@click.pass_context
def clients_diagnose(ctx: click.Context, client: str, codes: tuple[str, ...]) -> None:
    """Set CLIENT's ICD-10-CM diagnosis codes (e.g. I69.351 F84.0); none clears them."""
    with open_record(ctx) as record:
        found = record.caseload.update_client(record.caseload.find_client(client).id, diagnoses=codes)
    click.echo(f"{found.display_name}: " + (", ".join(found.diagnoses) or "no diagnosis codes"))


@click.command("attendance")
@click.argument("client")
@click.argument("day", required=False)
@click.argument("status", required=False, type=click.Choice(ATTENDANCE))
@click.option("--by", "cancelled_by", type=click.Choice(CANCELLED_BY), default="", help="Who cancelled.")
@click.option("--minutes", type=click.IntRange(min=0), default=0, help="How late, or how early they left.")
@click.option("--from", "start", help="First day listed (YYYY-MM-DD).")
@click.option("--to", "end", help="Last day listed (YYYY-MM-DD).")
@click.pass_context
def attendance(
    ctx: click.Context,
    client: str,
    day: str | None,
    status: str | None,
    cancelled_by: str,
    minutes: int,
    start: str | None,
    end: str | None,
) -> None:
    """Record CLIENT's attendance on DAY (attended, late, left early, cancelled --by ..., no-show), or list
    it. Ended sessions mark their members attended by themselves."""
    with open_record(ctx) as record:
        found = record.caseload.find_client(client)
        if day is not None:
            if status is None:
                raise click.UsageError(
                    f"say how {found.display_name} attended on {day}: {', '.join(ATTENDANCE)}"
                )
            given = parse_day(day)
            assert given is not None
            record.sessions.set_attendance(found.id, given, status, cancelled_by, minutes)
        entries = record.sessions.attendance(found.id, parse_day(start), parse_day(end))
    for entry in entries:
        detail = f" by the {entry.cancelled_by}" if entry.cancelled_by else ""
        detail += f" ({entry.minutes} min)" if entry.minutes else ""
        click.echo(f"{entry.day.isoformat()}  {entry.status}{detail}")
    click.echo(f"{found.display_name}: {attendance_summary(entries)}.")


def register(group: click.Group) -> None:
    group.add_command(profile)
    group.add_command(notes)
    group.add_command(attendance)
