"""A practice of several therapists: `companion staff add|list|update|passwd|activate|deactivate`,
`clients assign|share`, `notes cosign` and `companion audit`.

A record without staff is a solo practice and needs none of this. The first `staff add` (an admin) needs
nobody signed in; every later command signs in with the global `--user` (see `record_access`).
"""

from __future__ import annotations

from typing import cast

import click

from companion.cli.paperwork_commands import notes
from companion.cli.record_access import new_password, open_record, parse_day, safe
from companion.cli.record_commands import clients
from companion.record.access import ROLES, Role
from companion.record.audit import AuditEntry
from companion.record.notes import checked_npi


def npi_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A wrong NPI is refused before any password is asked (the record checks it again)."""
    try:
        return None if value is None else checked_npi(value)
    except ValueError as wrong:
        raise click.BadParameter(str(wrong)) from wrong


NPI_HELP = "National Provider Identifier (10 digits, Luhn-checked) that their notes and claims carry."


@click.group()
def staff() -> None:
    """Therapists, supervisors and admins who sign in (none: a solo practice)."""


@staff.command("add")
@click.argument("name")
@click.option("--credentials", default="", help="As notes are signed, e.g. MT-BC or 'MT-BC, NMT'.")
@click.option("--role", type=click.Choice(ROLES), default="therapist", show_default=True)
@click.option("--npi", default="", callback=npi_option, help=NPI_HELP)
@click.pass_context
def staff_add(ctx: click.Context, name: str, credentials: str, role: str, npi: str) -> None:
    """Add NAME; the password is asked twice (or read from COMPANION_NEW_PASSWORD). The first member is
    the practice's admin; after that a signed-in admin adds staff."""
    with open_record(ctx) as record:
        member = record.staff.add(name, new_password(), credentials, cast(Role, role), npi)
    click.echo(safe(f"Added {member.name} ({member.role}, staff id {member.id})."))


@staff.command("update")
@click.argument("name")
@click.option("--credentials", help="As notes are signed from now on, e.g. 'MT-BC, NMT'.")
@click.option("--npi", callback=npi_option, help=NPI_HELP + " '' clears it.")
@click.pass_context
def staff_update(ctx: click.Context, name: str, credentials: str | None, npi: str | None) -> None:
    """Change NAME's credentials or NPI (themselves, or an admin): notes signed from now on carry them."""
    with open_record(ctx) as record:
        member = record.staff.update(name, credentials, npi)
    npi_shown = f"NPI {member.npi}" if member.npi else "no NPI"
    click.echo(safe(f"{member.name} signs notes as {member.signature} ({npi_shown})."))


@staff.command("list")
@click.pass_context
def staff_list(ctx: click.Context) -> None:
    """List the staff with their role and whether they may sign in."""
    with open_record(ctx) as record:
        members = record.staff.members()
    if not members:
        click.echo(
            "No staff: a solo practice (nobody signs in). Add the first, an admin, with "
            "`companion staff add NAME --role admin`."
        )
    for m in members:
        npi = f"  NPI {m.npi}" if m.npi else ""
        click.echo(safe(f"{m.id:>4}  {m.signature}  {m.role}{npi}" + ("" if m.active else "  (inactive)")))


@staff.command("passwd")
@click.argument("name", required=False)
@click.pass_context
def staff_passwd(ctx: click.Context, name: str | None) -> None:
    """Set a new password for NAME (default: yourself, the --user); an admin may set anyone's."""
    who = name or (ctx.find_root().obj or {}).get("user")
    if not who:
        raise click.UsageError("say whose password: companion --user NAME staff passwd [NAME]")
    with open_record(ctx) as record:
        record.staff.set_password(who, new_password())
    click.echo(safe(f"Password of {who} changed."))


def _set_active(ctx: click.Context, name: str, active: bool) -> None:
    with open_record(ctx) as record:
        member = record.staff.set_active(name, active)
    click.echo(safe(f"{member.name} " + ("may sign in again." if active else "may no longer sign in.")))


@staff.command("deactivate")
@click.argument("name")
@click.pass_context
def staff_deactivate(ctx: click.Context, name: str) -> None:
    """NAME may no longer sign in (someone who left: their notes and audit entries stay)."""
    _set_active(ctx, name, False)


@staff.command("activate")
@click.argument("name")
@click.pass_context
def staff_activate(ctx: click.Context, name: str) -> None:
    """NAME may sign in again."""
    _set_active(ctx, name, True)


@clients.command("assign")
@click.argument("client")
@click.argument("therapist")
@click.pass_context
def clients_assign(ctx: click.Context, client: str, therapist: str) -> None:
    """Put CLIENT on THERAPIST's caseload (by its therapist, a supervisor or an admin)."""
    with open_record(ctx) as record:
        found = record.caseload.find_client(client)
        member = record.staff.member(therapist)
        record.sharing.assign(found.id, member.id)
    click.echo(safe(f"{found.display_name} is on {member.name}'s caseload."))


@clients.command("share")
@click.argument("client")
@click.argument("therapist")
@click.option("--stop", is_flag=True, help="Stop sharing instead.")
@click.pass_context
def clients_share(ctx: click.Context, client: str, therapist: str, stop: bool) -> None:
    """Share CLIENT with THERAPIST (co-treatment, cover), or --stop."""
    with open_record(ctx) as record:
        found = record.caseload.find_client(client)
        member = record.staff.member(therapist)
        record.sharing.share(found.id, member.id, shared=not stop)
    verb = "no longer shared" if stop else "shared"
    click.echo(safe(f"{found.display_name} is {verb} with {member.name}."))


@notes.command("cosign")
@click.argument("session_id", type=int)
@click.argument("client")
@click.pass_context
def notes_cosign(ctx: click.Context, session_id: int, client: str) -> None:
    """Co-sign CLIENT's finalised note of SESSION_ID as the signed-in supervisor."""
    with open_record(ctx) as record:
        note = record.notes.cosign(session_id, record.caseload.find_client(client).id)
    click.echo(safe(f"Note of session {session_id} co-signed by {note.cosigned_by} at {note.cosigned_at}."))


def audit_line(entry: AuditEntry) -> str:
    what = f"{entry.target} {entry.target_id}".strip()
    client = f"  client {entry.client_id}" if entry.client_id is not None else ""
    detail = f"  ({entry.detail})" if entry.detail else ""
    return safe(f"{entry.at}  {entry.actor}  {entry.action}  {what}{client}{detail}")


@click.command("audit")
@click.option("--client", help="Only entries about this client (id or name).")
@click.option("--since", help="From this day on (YYYY-MM-DD, local).")
@click.pass_context
def audit(ctx: click.Context, client: str | None, since: str | None) -> None:
    """Print the audit log (supervisors and admins): who read or changed what, and sign-ins, in UTC."""
    with open_record(ctx) as record:
        client_id = None
        if client is not None:
            client_id = int(client) if client.strip().isdigit() else record.caseload.find_client(client).id
        entries = record.audit.entries(client_id, parse_day(since))
    if not entries:
        click.echo("No audit entries match (a solo practice keeps none).")
    for entry in entries:
        click.echo(audit_line(entry))


def register(group: click.Group) -> None:
    """Add `staff` and `audit` to the main `companion` group (`clients assign|share` and `notes cosign`
    join their groups on import)."""
    group.add_command(staff)
    group.add_command(audit)
