"""`companion encrypt`: encrypt the data folder's session record and its backups at rest (docs/record.md)."""

from __future__ import annotations

import os
import sys

import click

from companion.cli.record_access import data_dir_of, safe
from companion.record import StorageError
from companion.record.encryption import encrypt_folder
from companion.record.keys import MIN_PASSPHRASE, PASSPHRASE_VAR


@click.command("encrypt")
@click.pass_context
def encrypt(ctx: click.Context) -> None:
    """Encrypt the session record, its backups and rescue files with a passphrase.

    The passphrase comes from COMPANION_PASSPHRASE, or is typed twice here. Without it the record cannot be
    opened: keep it somewhere safe. Exports stay plain files.
    """
    directory = data_dir_of(ctx)
    passphrase = os.environ.get(PASSPHRASE_VAR)
    if not passphrase:
        if not sys.stdin.isatty():
            raise click.ClickException(
                f"no passphrase: set {PASSPHRASE_VAR} or run `companion encrypt` in a terminal to type it"
            )
        passphrase = click.prompt(
            f"New passphrase (at least {MIN_PASSPHRASE} characters)",
            hide_input=True,
            confirmation_prompt=True,
            err=True,
        )
    try:
        done = encrypt_folder(directory, passphrase)
    except (StorageError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Encrypted {directory}: the session record, new backups and rescue files need the passphrase now."
        if done.database
        else f"{directory} was already encrypted."
    )
    if done.backups:
        click.echo(f"{len(done.backups)} older backup(s) encrypted as well.")
    for path, why in done.left_plain:
        click.echo(f"Still plain: {safe(path)} ({why})", err=True)


def register(main: click.Group) -> None:
    main.add_command(encrypt)
