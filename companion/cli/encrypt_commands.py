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
@click.option(
    "--keyring",
    "use_keyring",
    is_flag=True,
    help="Keep a random key in this computer's keyring (no passphrase to type when opening); the passphrase "
    "becomes the recovery passphrase, needed only without the keyring.",
)
@click.pass_context
def encrypt(ctx: click.Context, use_keyring: bool) -> None:
    """Encrypt the session record, its backups and rescue files with a passphrase, or with --keyring.

    The passphrase comes from COMPANION_PASSPHRASE, or is typed twice here. Without it (with --keyring:
    without it and the keyring entry) the record cannot be opened: keep it somewhere safe. Run again with
    --keyring to put a lost key back in the keyring. Exports stay plain files.
    """
    directory = data_dir_of(ctx)
    kind = "recovery passphrase" if use_keyring else "passphrase"
    passphrase = os.environ.get(PASSPHRASE_VAR)
    if not passphrase:
        if not sys.stdin.isatty():
            raise click.ClickException(
                f"no {kind}: set {PASSPHRASE_VAR} or run `companion encrypt` in a terminal to type it"
            )
        passphrase = click.prompt(
            f"{'Recovery passphrase' if use_keyring else 'New passphrase'} (at least {MIN_PASSPHRASE} "
            "characters)",
            hide_input=True,
            confirmation_prompt=True,
            err=True,
        )
    try:
        done = encrypt_folder(directory, passphrase, keyring=use_keyring)
    except (StorageError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    needs = "this computer's keyring (or the recovery passphrase)" if use_keyring else "the passphrase"
    click.echo(
        f"Encrypted {directory}: the session record, new backups and rescue files need {needs} now."
        if done.database
        else f"{directory} was already encrypted."
        + (" Its key is in this computer's keyring." if use_keyring else "")
    )
    if done.backups:
        click.echo(f"{len(done.backups)} older backup(s) encrypted as well.")
    for path, why in done.left_plain:
        click.echo(f"Still plain: {safe(path)} ({why})", err=True)


def register(main: click.Group) -> None:
    main.add_command(encrypt)
