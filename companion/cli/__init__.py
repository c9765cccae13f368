"""The `companion` command line: one click group; each area registers its own subcommands."""

from __future__ import annotations

import os
from pathlib import Path

import click

from companion import __version__
from companion.cli import (
    app_commands,
    backup_commands,
    encrypt_commands,
    export_commands,
    paperwork_commands,
    record_commands,
    serve_commands,
    staff_commands,
)
from companion.cli.cue_commands import play, songs
from companion.cli.engine_commands import devices, metronome
from companion.cli.listen_commands import register as register_listening
from companion.cli.plan_commands import plans
from companion.record.record import DATABASE_URL_ENV


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="companion")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the session record, backups and your plans (default: COMPANION_DATA_DIR, "
    "else the platform's user data folder).",
)
@click.option(
    "--user",
    envvar="COMPANION_USER",
    help="Sign in as this member of staff (a practice with staff; default: COMPANION_USER). The password "
    "is asked, or read from COMPANION_PASSWORD.",
)
@click.option(
    "--database",
    metavar="URL",
    help="Keep the practice's record on a PostgreSQL server (postgresql://user@host/db; default: "
    "COMPANION_DATABASE_URL, else the SQLite file in the data folder).",
)
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None, user: str | None, database: str | None) -> None:
    """Companion: intervention plans, a precise metronome and quick-tap session data for music therapists.

    Run without a subcommand to open the app.
    """
    ctx.ensure_object(dict)
    ctx.obj["data_dir"] = data_dir
    ctx.obj["user"] = user
    if database is not None:  # as the variable: the app, a served session and its children reach it too
        os.environ[DATABASE_URL_ENV] = database
    if ctx.invoked_subcommand is None:
        app_commands.open_or_explain(ctx)


record_commands.register(main)
export_commands.register(main)
backup_commands.register(main)
encrypt_commands.register(main)
paperwork_commands.register(main)
staff_commands.register(main)
app_commands.register(main)
register_listening(main)
main.add_command(plans)
main.add_command(devices)
main.add_command(metronome)
main.add_command(play)
main.add_command(songs)
serve_commands.register(main)
