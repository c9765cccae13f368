"""The session record: the one object the CLI, the live session and the app drive.

`Record.open(data_dir)` opens `<data dir>/companion.db` and composes the record of parts, each a small
class over the one `Database` and the one `RecordCache`:

- `record.caseload`: clients, goals, objectives, their phases and prompt hierarchies;
- `record.sharing`: whose caseload a client is in, and whom it is shared with;
- `record.sessions`: sessions, attendance and inter-observer agreement;
- `record.events`: durable events with pending retry, rescue files and undo; on a server record, the
  outbox they are durable in first and its sender (`record.events.sync`);
- `record.notes`: SOAP notes, addenda and the signing therapist;
- `record.billing`: billing codes, units and their audit trail;
- `record.progress`: session summaries and objectives' progress;
- `record.backups`: automatic and on-demand backups;
- `record.staff`: therapists, supervisors and admins who sign in (none: a solo practice, the default);
- `record.audit`: the append-only log of who read or changed which client's record.

Once someone signs in (`record.staff.sign_in`), every part checks that client's visibility and audits
through the one shared `Access` (`companion.record.access`).

It never imports Textual; every method is synchronous and safe to call from a worker thread.
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import partial
from pathlib import Path
from types import TracebackType

from companion.paths import data_dir as resolve_data_dir
from companion.paths import database_path
from companion.record.access import Access
from companion.record.audit import AuditLog
from companion.record.backups import DEFAULT_BACKUP_EVERY, DEFAULT_KEEP_BACKUPS, Backups
from companion.record.billing import Billing
from companion.record.cache import RecordCache
from companion.record.caseload import Caseload
from companion.record.cipher import DataKey
from companion.record.database import Database
from companion.record.errors import StorageError, classify
from companion.record.event_log import EventLog
from companion.record.keys import key_for
from companion.record.notes import Notes
from companion.record.outbox import Outbox
from companion.record.postgres import is_database_url
from companion.record.progress import Progress
from companion.record.sessions import Sessions
from companion.record.sharing import Sharing
from companion.record.staff import Staff

DATABASE_URL_ENV = "COMPANION_DATABASE_URL"


class Record:
    """A therapist's practice record in `<data dir>/companion.db`, reached through its parts."""

    def __init__(
        self,
        database: Database,
        data_dir: Path,
        backup_every: timedelta | None,
        keep_backups: int,
        outbox: Outbox | None = None,
    ) -> None:
        self.database = database
        self.data_dir = data_dir
        cache = RecordCache()
        access = Access(database)
        self.staff = Staff(database, access)
        self.audit = AuditLog(
            database, partial(access.require_role, "supervisor", "admin", doing="read the audit log")
        )
        self.caseload = Caseload(database, cache, access)
        self.sharing = Sharing(database, access, self.caseload)
        self.events = EventLog(database, cache, access, self.caseload, data_dir, outbox)
        self.sessions = Sessions(database, cache, access, self.caseload, self.events)
        self.notes = Notes(database, access, self.sessions)
        self.billing = Billing(database, access, self.sessions, self.notes)
        self.progress = Progress(database, access, self.caseload, self.sessions, self.events)
        self.backups = Backups(database, data_dir, backup_every, keep_backups)

    @classmethod
    def open(
        cls,
        data_dir: Path | None = None,
        *,
        busy_timeout: float = 2.0,
        backup_every: timedelta | None = DEFAULT_BACKUP_EVERY,
        keep_backups: int = DEFAULT_KEEP_BACKUPS,
        key: DataKey | None = None,
        database: str | None = None,
    ) -> Record:
        """Open the record in `data_dir` (resolved like `--data-dir`), migrating and backing up if due.

        `busy_timeout` is how long a write waits for another process's lock before raising DatabaseLocked;
        `backup_every=None` disables automatic backups (tests, benchmarks). An encrypted folder is opened
        with `key` (the command line asks for the passphrase), else with `COMPANION_PASSPHRASE`; without
        either, KeyNeeded says how to give it.

        `database` (else `COMPANION_DATABASE_URL`) is a `postgresql://` URL: the practice's record is then
        on that server, migrated there like a file; the data folder holds the outbox each event is durable in
        before the server has it (`companion.record.outbox`), and the rescue files. Unset,
        the record is the SQLite file in the data folder (the default).
        """
        try:
            directory = resolve_data_dir(data_dir)
        except OSError as exc:
            target = Path(exc.filename) if exc.filename else Path(data_dir or ".")
            raise classify(exc, database_path(target)) from exc
        url = database if database is not None else os.environ.get(DATABASE_URL_ENV) or None
        opened: Database
        if url is None:
            opened = Database.open(database_path(directory), busy_timeout, key or key_for(directory))
        elif is_database_url(url):
            opened = Database.open_url(url, database_path(directory), busy_timeout)
        else:
            raise StorageError(
                database_path(directory),
                f"--database / {DATABASE_URL_ENV} must be a postgresql:// URL (it starts "
                f"{url.split(':', 1)[0]!r}): give the server's URL, or leave it unset for the record in the "
                "data folder.",
            )
        try:
            outbox = Outbox.open(directory, opened.where) if opened.url is not None else None
        except StorageError:
            opened.close()
            raise
        record = cls(opened, directory, backup_every, keep_backups, outbox)
        try:
            record.events.restored = record.events.restore_rescued()
        except (StorageError, ValueError, OSError) as exc:  # the files stay; the next open tries again
            record.events.restore_error = str(exc)
        try:
            record.backups.backup_if_due()
        except StorageError as exc:  # a failed backup must not stop the session; the app shows why
            record.backups.backup_error = exc
        return record

    @property
    def path(self) -> Path:
        return self.database.path

    def close(self) -> None:
        """Close the connection; pending events are retried once first and the error raised if that fails.
        On a server record what the server cannot take now stays in the outbox for the next open."""
        try:
            self.events.flush()
        finally:
            if not self.events.pending():
                self.events.close()
                self.database.close()

    def __enter__(self) -> Record:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
