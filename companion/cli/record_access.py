"""Opening the session record for a CLI command, and showing what it holds safely.

Every command opens the record in the data directory chosen by the global `--data-dir` option (or
COMPANION_DATA_DIR, or the platform default) and turns storage problems into one clear line naming the
file and the fix, instead of a traceback. In a practice with staff it signs in as the global `--user`
(or COMPANION_USER), the password asked on the terminal or read from COMPANION_PASSWORD (scripts).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import click

from companion.paths import data_dir as resolve_data_dir
from companion.paths import database_path
from companion.record import Record, StorageError, UnknownRecord, WrongKey
from companion.record.cipher import DataKey
from companion.record.keys import PASSPHRASE_VAR, encrypted, marker_path, unlock, uses_keyring


def data_dir_of(ctx: click.Context) -> Path:
    """The data directory for this invocation (the group's `--data-dir`, then env, then default); a folder
    that cannot be created ends the command with the cause and the fix."""
    return checked_data_dir((ctx.find_root().obj or {}).get("data_dir"))


def checked_data_dir(override: Path | None) -> Path:
    try:
        return resolve_data_dir(override)
    except OSError as exc:
        raise click.ClickException(
            f"cannot create the data folder {override or ''} ({exc.strerror or exc}): choose a folder you "
            "can write with --data-dir or COMPANION_DATA_DIR"
        ) from exc


@contextlib.contextmanager
def open_record(ctx: click.Context) -> Iterator[Record]:
    """The record for a command; storage and lookup errors end the command with their message."""
    folder = data_dir_of(ctx)
    try:
        with Record.open(folder, key=folder_key(folder)) as record:
            user = (ctx.find_root().obj or {}).get("user")
            if user:
                record.staff.sign_in(user, password_of(user))
            yield record
    except (StorageError, UnknownRecord, ValueError, PermissionError) as exc:
        message = exc.args[0] if isinstance(exc, UnknownRecord) and exc.args else str(exc)
        raise click.ClickException(message) from exc


PASSWORD_ENV = "COMPANION_PASSWORD"
NEW_PASSWORD_ENV = "COMPANION_NEW_PASSWORD"


def password_of(user: str) -> str:
    """The signing-in member's password: COMPANION_PASSWORD, else asked (never echoed)."""
    return os.environ.get(PASSWORD_ENV) or click.prompt(f"Password for {safe(user)}", hide_input=True)


def new_password() -> str:
    """A password being set: COMPANION_NEW_PASSWORD (a separate variable: a script signs in with
    COMPANION_PASSWORD while setting another), else asked twice on the terminal."""
    return os.environ.get(NEW_PASSWORD_ENV) or click.prompt(
        "New password", hide_input=True, confirmation_prompt=True
    )


def folder_key(folder: Path, needs_key: Callable[[Path], bool] = encrypted) -> DataKey | None:
    """The key of an encrypted folder: from the OS keyring for a folder that keeps it there, else from
    COMPANION_PASSPHRASE, else typed here when there is a terminal (three tries). Raises KeyNeeded/WrongKey
    (StorageErrors) saying how to give it. `needs_key` is `has_marker` to restore a backup over a record
    that may be too damaged to tell."""
    if not needs_key(folder):
        return None
    if os.environ.get(PASSPHRASE_VAR) or not sys.stdin.isatty() or uses_keyring(folder):
        return unlock(folder)
    prompt = f"Passphrase for {database_path(folder)}"
    for _ in range(2):
        try:
            return unlock(folder, click.prompt(prompt, hide_input=True, err=True))
        except WrongKey:
            click.echo("That passphrase does not unlock it; try again.", err=True)
    return unlock(folder, click.prompt(prompt, hide_input=True, err=True))  # a third WrongKey ends it


def has_marker(folder: Path) -> bool:
    return marker_path(folder).exists()


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe(text: object) -> str:
    """User text as the terminal may show it: control characters (an escape sequence hidden in a client's
    name could move the cursor, retitle the window or worse) are written as visible ^X marks."""
    return _CONTROL.sub(lambda m: "^" + chr((ord(m.group()) + 64) % 128), str(text))


def parse_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date like 2025-03-31") from exc
