"""The session record facade: the one object the CLI and the Textual app drive.

`Record.open(data_dir)` gives clients/goals/objectives (Caseload), sessions and notes (Sessions), durable
events with pending retry and undo (EventLog), plus summaries, progress and backups. It never imports
Textual; every method is synchronous and safe to call from a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from types import TracebackType

from companion.paths import data_dir as resolve_data_dir
from companion.paths import database_path
from companion.record import backups
from companion.record.agreement import Agreement, agreements
from companion.record.attendance import AttendanceLog
from companion.record.caseload import Caseload
from companion.record.clock import iso, utc_now
from companion.record.database import Database
from companion.record.errors import StorageError, classify
from companion.record.event_log import EventLog
from companion.record.model import Event, Session
from companion.record.progress import ObjectiveProgress, objective_progress
from companion.record.sessions import Sessions
from companion.record.summaries import SessionSummary, summarise_session

DEFAULT_BACKUP_EVERY = timedelta(hours=24)
DEFAULT_KEEP_BACKUPS = 20


class Record(Caseload, Sessions, EventLog, AttendanceLog):
    """A therapist's practice record in `<data dir>/companion.db`."""

    def __init__(
        self, database: Database, data_dir: Path, backup_every: timedelta | None, keep_backups: int
    ) -> None:
        self._db = database
        self.data_dir = data_dir
        self._backup_every = backup_every
        self._keep_backups = keep_backups
        self._pending: list[Event] = []
        self.rescue_file: Path | None = None
        self.rescue_error: str | None = None
        # Entries an earlier run left in rescue files and this open added, or why adding them failed.
        self.restored = 0
        self.restore_error: str | None = None
        self._anchors: dict[int, float] = {}
        self._current_plan: dict[int, str | None] = {}
        self._session_cache: dict[int, Session] = {}
        self._hierarchies: dict[tuple[int | None, int | None], tuple[str, ...]] = {}
        self._objective_owners: dict[int, int] = {}
        # Why the last automatic backup failed (e.g. disk full), for the app to show; None when fine.
        self.backup_error: StorageError | None = None

    @classmethod
    def open(
        cls,
        data_dir: Path | None = None,
        *,
        busy_timeout: float = 2.0,
        backup_every: timedelta | None = DEFAULT_BACKUP_EVERY,
        keep_backups: int = DEFAULT_KEEP_BACKUPS,
    ) -> Record:
        """Open the record in `data_dir` (resolved like `--data-dir`), migrating and backing up if due.

        `busy_timeout` is how long a write waits for another process's lock before raising DatabaseLocked;
        `backup_every=None` disables automatic backups (tests, benchmarks).
        """
        try:
            directory = resolve_data_dir(data_dir)
        except OSError as exc:
            target = Path(exc.filename) if exc.filename else Path(data_dir or ".")
            raise classify(exc, database_path(target)) from exc
        record = cls(
            Database.open(database_path(directory), busy_timeout), directory, backup_every, keep_backups
        )
        try:
            record.restored = record.restore_rescued()
        except (StorageError, ValueError, OSError) as exc:  # the files stay; the next open tries again
            record.restore_error = str(exc)
        try:
            record.backup_if_due()
        except StorageError as exc:  # a failed backup must not stop the session; the app shows why
            record.backup_error = exc
        return record

    @property
    def path(self) -> Path:
        return self._db.path

    @property
    def database(self) -> Database:
        return self._db

    def close(self) -> None:
        """Close the connection; pending events are retried once first and the error raised if that fails."""
        try:
            self.flush()
        finally:
            if not self._pending:
                self._db.close()

    def __enter__(self) -> Record:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- inter-observer agreement ------------------------------------------------------------------------
    def end_session(
        self,
        session_id: int,
        ended_at: datetime | None = None,
        plan_ids: Sequence[str] = (),
        cpt_codes: Sequence[str] | None = None,
    ) -> Session:
        """Close a session (see `Sessions.end_session`); when a second observer took part, the agreement
        is computed and stored with the observed session once both have ended (a record still being taken
        would show a disagreement that is only a delay)."""
        ended = super().end_session(session_id, ended_at, plan_ids, cpt_codes)
        observed = ended.second_observer_of if ended.second_observer_of is not None else ended.id
        if self.session(observed).ended_at is not None and self.second_observers(observed):
            self.compute_agreement(observed)
        return ended

    def compute_agreement(self, session_id: int) -> list[Agreement]:
        """Agreement of each ended second observer's record with the session's, per objective; stored."""
        primary = self.session_events(session_id)
        found: list[tuple[int, Agreement]] = []
        for observer in self.second_observers(session_id):
            if observer.ended_at is None:  # still observing: its figure comes when it ends
                continue
            clients = set(observer.client_ids)
            mine = [e for e in primary if e.client_id in clients]
            found += [(observer.id, a) for a in agreements(mine, self.session_events(observer.id))]
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO agreements (session_id, objective_id, measure, agreement_pct, items, "
                "observer_session_id, computed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        session_id,
                        a.objective_id,
                        a.measure,
                        a.agreement_pct,
                        a.items,
                        observer,
                        iso(utc_now()),
                    )
                    for observer, a in found
                ],
            )
        return [a for _, a in found]

    def agreement(self, session_id: int) -> list[Agreement]:
        """The agreement stored with a session (computed when it or its second observer ended)."""
        rows = self._db.query(
            "SELECT objective_id, measure, agreement_pct, items FROM agreements WHERE session_id = ? "
            "ORDER BY objective_id, measure",
            (session_id,),
        )
        return [Agreement(r["objective_id"], r["measure"], r["agreement_pct"], r["items"]) for r in rows]

    # -- summaries and progress ------------------------------------------------------------------------------
    def summary(self, session_id: int) -> SessionSummary:
        """Figures per client and objective for one session (pending events included, undone ones not)."""
        session = self.session(session_id)
        hierarchies = {client_id: self.prompt_hierarchy(client_id) for client_id in session.client_ids}
        objectives = [o for c in session.client_ids for o in self.objectives(c, include_archived=True)]
        own = {o.id: o.prompt_levels for o in objectives}
        criteria = {o.id: o.criterion for o in objectives}
        return summarise_session(session, self.session_events(session_id), hierarchies, own, criteria)

    def objective_progress(
        self, objective_id: int, start: date | None = None, end: date | None = None
    ) -> ObjectiveProgress:
        """One value per session for the objective's criterion metric, its weekly trend and mastery."""
        objective = self.objective(objective_id)
        sessions = self.sessions(objective.client_id, start, end)
        first_level = self.objective_hierarchy(objective)[0]
        return objective_progress(self._db, objective, sessions, first_level, self.phases(objective_id))

    def client_progress(
        self, client_id: int, start: date | None = None, end: date | None = None
    ) -> list[ObjectiveProgress]:
        """Progress of every active objective of a client (what the review screen and reports show)."""
        sessions = self.sessions(client_id, start, end)
        return [
            objective_progress(self._db, o, sessions, self.objective_hierarchy(o)[0], self.phases(o.id))
            for o in self.objectives(client_id)
        ]

    # -- backups -----------------------------------------------------------------------------------------
    def backup_now(self) -> Path:
        """Write a consistent snapshot to `<data dir>/backups/` and prune the oldest beyond the limit."""
        with self._db.lock:
            return backups.make_backup(self._db.connection, self.path, self._keep_backups)

    def backup_if_due(self) -> Path | None:
        if self._backup_every is None or not backups.backup_due(self.data_dir, self._backup_every):
            return None
        return self.backup_now()
