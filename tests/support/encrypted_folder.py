"""A practice to encrypt, and `companion encrypt` run on it: shared by the passphrase and keyring tests.

The client's long name and the note are what a reader of the raw files must not find once the folder is
encrypted (`assert_unreadable`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner, Result

from companion.cli import main
from companion.record import EventDraft, Note, Record
from companion.record.cipher import PLAIN_HEADER
from companion.record.keys import PASSPHRASE_VAR
from support.practice import make_practice

PASSPHRASE = "correct horse battery"
NAME = "Philippa Quartermaine"
NOTE = "hummed the whole of Moon River"


def run(data: Path, *args: str, passphrase: str | None = PASSPHRASE) -> Result:
    """A `companion` command on `data`, with `passphrase` (None: none) in COMPANION_PASSPHRASE."""
    env = {PASSPHRASE_VAR: passphrase} if passphrase is not None else {PASSPHRASE_VAR: ""}
    return CliRunner().invoke(main, ["--data-dir", str(data), *args], env=env, catch_exceptions=False)


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {table: conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] for table in tables}


def plain_practice(data: Path) -> dict[str, int]:
    """The seeded practice plus a client with a long, findable name and a note; returns rows per table."""
    make_practice(data)
    with Record.open(data, backup_every=None) as record:
        client = record.caseload.add_client(NAME, birth_year=1961)
        session = record.sessions.start_session([client.id])
        record.events.log(session.id, EventDraft(Note(NOTE)))
    conn = sqlite3.connect(data / "companion.db")
    try:
        return table_counts(conn)
    finally:
        conn.close()


def encrypted_practice(data: Path, *options: str) -> dict[str, int]:
    """`plain_practice`, then `companion encrypt` with `options` (`--keyring`) and PASSPHRASE; returns the
    plain record's rows per table."""
    counts = plain_practice(data)
    result = run(data, "encrypt", *options)
    assert result.exit_code == 0, result.output
    return counts


def assert_unreadable(path: Path) -> None:
    content = path.read_bytes()
    assert content, path
    assert not content.startswith(PLAIN_HEADER), path
    for secret in (NAME, NOTE):
        assert secret.encode() not in content, (secret, path)
