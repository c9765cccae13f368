"""Schema migrations, applied in order and recorded in the `schema_version` table.

Each migration is a list of SQL statements run in one transaction, so a crash mid-upgrade leaves the
previous version intact. Never edit a released migration: append a new one. The record refuses to open a
database whose version is newer than it knows, rather than guess at a format it cannot read.
"""

from __future__ import annotations

from collections.abc import Sequence

from companion.record.connection import Connection

MIGRATIONS: tuple[Sequence[str], ...] = (
    # 1: the first released schema.
    (
        """CREATE TABLE clients (
            id INTEGER PRIMARY KEY,
            display_name TEXT NOT NULL,
            birth_year INTEGER,
            pseudonym TEXT,
            population TEXT NOT NULL DEFAULT '',
            preferred_music TEXT NOT NULL DEFAULT '',
            settings TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            archived INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE goals (
            id INTEGER PRIMARY KEY,
            client_id INTEGER NOT NULL REFERENCES clients(id),
            domain TEXT NOT NULL,
            description TEXT NOT NULL,
            created_at TEXT NOT NULL,
            archived INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE objectives (
            id INTEGER PRIMARY KEY,
            goal_id INTEGER NOT NULL REFERENCES goals(id),
            description TEXT NOT NULL,
            criterion TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            archived INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            date TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            setting TEXT NOT NULL DEFAULT '',
            plan_ids TEXT NOT NULL DEFAULT '[]'
        )""",
        """CREATE TABLE session_clients (
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            client_id INTEGER NOT NULL REFERENCES clients(id),
            PRIMARY KEY (session_id, client_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX session_clients_by_client ON session_clients(client_id, session_id)",
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            client_id INTEGER REFERENCES clients(id),
            objective_id INTEGER REFERENCES objectives(id),
            plan_id TEXT,
            kind TEXT NOT NULL,
            wall_time TEXT NOT NULL,
            offset_s REAL NOT NULL,
            payload TEXT NOT NULL,
            undoes TEXT
        )""",
        "CREATE INDEX events_by_session ON events(session_id, seq)",
        "CREATE INDEX events_by_objective ON events(objective_id, session_id) WHERE objective_id IS NOT NULL",
        "CREATE INDEX events_by_client ON events(client_id, session_id)",
        "CREATE INDEX events_undone ON events(undoes) WHERE undoes IS NOT NULL",
        """CREATE TABLE notes (
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            client_id INTEGER NOT NULL REFERENCES clients(id),
            subjective TEXT NOT NULL DEFAULT '',
            objective TEXT NOT NULL DEFAULT '',
            assessment TEXT NOT NULL DEFAULT '',
            plan TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL,
            PRIMARY KEY (session_id, client_id)
        )""",
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    # 2: preferred songs (MIDI files offered as cues), CPT codes on sessions, finalised notes.
    (
        "ALTER TABLE clients ADD COLUMN preferred_songs TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE sessions ADD COLUMN cpt_codes TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE notes ADD COLUMN finalised INTEGER NOT NULL DEFAULT 0",
    ),
    # 3: goals share the plans' domain list. Only names for the same domain are renamed ("cognition" is
    # "cognition/academic"); "motor" (gross or fine?) and any other name stay as the therapist wrote them.
    (
        "UPDATE goals SET domain = 'cognition/academic' WHERE domain = 'cognition'",
        "UPDATE goals SET domain = 'emotional/regulation' WHERE domain = 'emotional'",
    ),
    # 4: an objective's own prompt hierarchy (MIT's is not the client's ABA one); '[]' = the client's.
    ("ALTER TABLE objectives ADD COLUMN prompt_levels TEXT NOT NULL DEFAULT '[]'",),
    # 5: an objective's phases (baseline, intervention, probe, maintenance, generalisation), from a date.
    (
        """CREATE TABLE objective_phases (
            id INTEGER PRIMARY KEY,
            objective_id INTEGER NOT NULL REFERENCES objectives(id),
            phase TEXT NOT NULL,
            since TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX objective_phases_by_objective ON objective_phases (objective_id, since)",
    ),
    # 6: inter-observer agreement: a second observer's session of the same clients, kept apart from the
    # record (never in summaries or progress), and the agreement computed against the primary session.
    (
        "ALTER TABLE sessions ADD COLUMN second_observer_of INTEGER REFERENCES sessions(id)",
        """CREATE TABLE agreements (
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            objective_id INTEGER NOT NULL REFERENCES objectives(id),
            measure TEXT NOT NULL,
            agreement_pct REAL NOT NULL,
            items INTEGER NOT NULL,
            observer_session_id INTEGER NOT NULL REFERENCES sessions(id),
            computed_at TEXT NOT NULL,
            PRIMARY KEY (session_id, objective_id, measure)
        )""",
    ),
    # 7: paperwork a payer accepts: signed notes and addenda, who was present and how (telehealth),
    # billing changes after signing kept in an audit trail, diagnoses (ICD-10) per client, attendance.
    (
        "ALTER TABLE notes ADD COLUMN signed_by TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE notes ADD COLUMN signed_at TEXT",
        """CREATE TABLE note_addenda (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            client_id INTEGER NOT NULL REFERENCES clients(id),
            text TEXT NOT NULL,
            written_at TEXT NOT NULL,
            signed_by TEXT NOT NULL
        )""",
        "CREATE INDEX note_addenda_by_note ON note_addenda (session_id, client_id, id)",
        "ALTER TABLE sessions ADD COLUMN present TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE sessions ADD COLUMN modality TEXT NOT NULL DEFAULT 'in person'",
        """CREATE TABLE billing_audit (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES sessions(id),
            changed_at TEXT NOT NULL,
            before TEXT NOT NULL,
            after TEXT NOT NULL,
            changed_by TEXT NOT NULL
        )""",
        "ALTER TABLE clients ADD COLUMN diagnoses TEXT NOT NULL DEFAULT '[]'",
        """CREATE TABLE attendance (
            client_id INTEGER NOT NULL REFERENCES clients(id),
            day TEXT NOT NULL,
            status TEXT NOT NULL,
            cancelled_by TEXT NOT NULL DEFAULT '',
            minutes INTEGER NOT NULL DEFAULT 0,
            session_id INTEGER REFERENCES sessions(id),
            recorded_at TEXT NOT NULL,
            PRIMARY KEY (client_id, day)
        )""",
        # Sessions ended before attendance was kept: their members attended.
        """INSERT OR IGNORE INTO attendance (client_id, day, status, session_id, recorded_at)
            SELECT sc.client_id, s.date, 'attended', s.id, s.ended_at FROM sessions s
            JOIN session_clients sc ON sc.session_id = s.id
            WHERE s.ended_at IS NOT NULL AND s.second_observer_of IS NULL""",
    ),
    # 8: the therapist's own observations on a note, kept apart from the Objective drafted from the data;
    # home carry-over as the carers report it (practised, partly, not practised; what they said).
    (
        "ALTER TABLE notes ADD COLUMN observations TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE notes ADD COLUMN home_practice TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE notes ADD COLUMN home_report TEXT NOT NULL DEFAULT ''",
    ),
    # 9: a practice of several therapists: staff who sign in (argon2 hashes, never passwords), each
    # client's owner and the therapists it is shared with, a supervisor's co-signature on a finalised
    # note, and an append-only audit log (triggers refuse to rewrite or remove any of it). A record with
    # no staff is a solo practice and opens as before.
    (
        """CREATE TABLE staff (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE,
            credentials TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL CHECK (role IN ('therapist', 'supervisor', 'admin')),
            password_hash TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        )""",
        "ALTER TABLE clients ADD COLUMN owner_id INTEGER REFERENCES staff(id)",
        """CREATE TABLE client_shares (
            client_id INTEGER NOT NULL REFERENCES clients(id),
            staff_id INTEGER NOT NULL REFERENCES staff(id),
            PRIMARY KEY (client_id, staff_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX client_shares_by_staff ON client_shares (staff_id, client_id)",
        "ALTER TABLE notes ADD COLUMN cosigned_by TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE notes ADD COLUMN cosigned_at TEXT",
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            staff_id INTEGER REFERENCES staff(id),
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            target_id TEXT NOT NULL DEFAULT '',
            client_id INTEGER,
            detail TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX audit_log_by_client ON audit_log (client_id, at)",
        "CREATE INDEX audit_log_by_time ON audit_log (at)",
        """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: its entries are never changed'); END""",
        """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
            BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: its entries are never removed'); END""",
    ),
    # 10: each member of staff's NPI, which their notes and claims carry as the solo profile's did; ''
    # (none yet) for the members added before. A note keeps its signer's NPI as signed, so a claim names
    # the therapist who signed it whoever exports it ('' for the notes signed before).
    (
        "ALTER TABLE staff ADD COLUMN npi TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE notes ADD COLUMN signed_npi TEXT NOT NULL DEFAULT ''",
    ),
)

LATEST_VERSION = len(MIGRATIONS)


class NewerSchemaError(Exception):
    """The database's schema version is newer than this program's migrations."""

    def __init__(self, found: int) -> None:
        super().__init__(f"schema version {found} is newer than the latest known ({LATEST_VERSION})")
        self.found = found


def stored_version(conn: Connection) -> int:
    """The recorded schema version, read without writing anything; refuses a newer schema."""
    has_table = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'")
    if has_table.fetchone() is None:
        return 0
    found = int(conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0)
    if found > LATEST_VERSION:
        raise NewerSchemaError(found)
    return found


def current_version(conn: Connection) -> int:
    """The schema version recorded in the database (0 for a new, empty file)."""
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: Connection, target: int = LATEST_VERSION) -> int:
    """Bring the schema up to `target`, one transaction per migration; returns the version reached.

    The connection must be in autocommit mode (isolation_level=None) so each BEGIN here is ours.
    """
    found = current_version(conn)
    if found > LATEST_VERSION:
        raise NewerSchemaError(found)
    for version in range(found + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-check under the write lock: a second process may have migrated while we waited.
            if current_version(conn) >= version:
                conn.execute("ROLLBACK")
                continue
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite already rolled back after some errors (a full disk): the
                conn.execute("ROLLBACK")  # original error is the one to report, not "no transaction"
            raise
    return max(found, target)
