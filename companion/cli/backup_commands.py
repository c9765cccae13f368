"""`companion backups list|restore`: the automatic backups of the session record."""

from __future__ import annotations

from pathlib import Path

import click

from companion.cli.record_access import data_dir_of, folder_key, has_marker
from companion.paths import database_path
from companion.record import StorageError
from companion.record.backups import list_backups, restore_backup


@click.group()
def backups() -> None:
    """List or restore the automatic backups of the session record."""


@backups.command("list")
@click.pass_context
def backups_list(ctx: click.Context) -> None:
    """List backups, newest last."""
    found = list_backups(data_dir_of(ctx))
    for backup in found:
        click.echo(f"{backup}  ({backup.stat().st_size // 1024} KiB)")
    if not found:
        click.echo("No backups yet (one is made automatically when the record is opened).")


@backups.command("restore")
@click.argument("backup", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def backups_restore(ctx: click.Context, backup: Path | None) -> None:
    """Replace the database with BACKUP (default: the newest); the current file is kept beside it."""
    directory = data_dir_of(ctx)
    try:
        key = folder_key(directory, has_marker)
        chosen, aside = restore_backup(directory, database_path(directory), backup, key)
    except StorageError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Restored {chosen}." + (f" The previous database was kept as {aside}." if aside else ""))


def register(group: click.Group) -> None:
    """Add `backups` to the main `companion` group."""
    group.add_command(backups)
