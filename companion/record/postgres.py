"""The record on a PostgreSQL server: a connection that speaks to the record's parts as sqlite3's does.

Why translate at this seam rather than keep two copies of every query: the parts, the migrations and the
queries are written once, in SQLite's SQL, and most of it is standard SQL both engines run unchanged.
What differs is mechanical and listed in `translate` (placeholders, `INSERT OR IGNORE`, column types,
`sqlite_master`, SQLite's trigger bodies), so one small tested function covers it; a query whose meaning
differs between the engines is written portably at its call site instead (an upsert names its conflict).
`PostgresConnection` gives the parts what they use of `sqlite3.Connection`: `execute`, `executemany`,
`total_changes`, `in_transaction`, a cursor's `lastrowid`, rows readable by name and by position.

Writers are serialised as SQLite serialises them: `BEGIN IMMEDIATE` becomes BEGIN plus a transaction-level
advisory lock, so a read-then-write in one transaction (the next sequence number, a check before an
insert) sees no other writer, and a writer waits at most the busy timeout (`lock_timeout`) before the
record reports DatabaseLocked. Every COMMIT is durable: the server runs with `synchronous_commit = on`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.types.numeric import FloatLoader

from companion.record.errors import DatabaseLocked, DiskFull, ReadOnlyLocation, StorageError

URL_SCHEMES = ("postgresql://", "postgres://")
WRITE_LOCK = 0x436F6D70  # "Comp": the one advisory lock every writer of the record takes

_SETUP = (
    # What `migrations.current_version` creates, made here under the writers' lock: two programs opening a
    # new database at once would otherwise race on PostgreSQL's CREATE TABLE IF NOT EXISTS.
    "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)",
    # SQLite's NOCASE: a case-insensitive collation, for names a therapist types (ICU, as Debian builds it).
    "CREATE COLLATION IF NOT EXISTS nocase "
    "(provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
    # SQLite's JSON functions as the record's queries use them over a TEXT payload: `json_extract` for a
    # number (a boolean as 1/0, as SQLite gives it) and `->>` for a text field.
    """CREATE OR REPLACE FUNCTION json_extract(document text, path text) RETURNS numeric
        LANGUAGE sql IMMUTABLE AS $body$
        SELECT CASE jsonb_typeof(value) WHEN 'number' THEN (value #>> '{}')::numeric
            WHEN 'boolean' THEN CASE WHEN value = 'true'::jsonb THEN 1 ELSE 0 END END
        FROM (SELECT document::jsonb -> substr(path, 3) AS value) AS field $body$""",
    """CREATE OR REPLACE FUNCTION companion_text_field(document text, name text) RETURNS text
        LANGUAGE sql IMMUTABLE AS $body$ SELECT document::jsonb ->> name $body$""",
    """DO $body$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_operator WHERE oprname = '->>' AND oprleft = 'text'::regtype) THEN
            CREATE OPERATOR ->> (LEFTARG = text, RIGHTARG = text, FUNCTION = companion_text_field);
        END IF; END $body$""",
)


DEAD_NETWORK_LIMITS: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}
"""libpq's TCP settings: a server whose network went away (a cable pulled, Wi-Fi lost) is given up on
after about 10 s, instead of the operating system's default of many minutes, so a write waits that long at
most before the record says the server is unreachable and the taps wait in the outbox."""


def is_database_url(text: str | None) -> bool:
    """Whether `--database`/COMPANION_DATABASE_URL names a PostgreSQL server (anything else: SQLite)."""
    return bool(text) and str(text).startswith(URL_SCHEMES)


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


# --- translation ------------------------------------------------------------------------------------

_TOKENS = re.compile(r"'(?:[^']|'')*'|\?|(?<!:):([A-Za-z_]\w*)|%")
_TRIGGER = re.compile(
    r"CREATE TRIGGER (\w+) BEFORE (UPDATE|DELETE) ON (\w+)\s+"
    r"BEGIN SELECT RAISE\(ABORT, '((?:[^']|'')*)'\); END",
    re.S,
)
_INSERT_OR = re.compile(r"^\s*INSERT OR IGNORE INTO", re.I)
_SQLITE_MASTER = (
    "(SELECT table_name AS name, 'table' AS type FROM information_schema.tables "
    "WHERE table_schema = current_schema()) AS sqlite_master"
)
_DDL_REWRITES = (  # SQLite's INTEGER is 64 bits and its REAL a double; a rowid alias is numbered for us
    (re.compile(r"\bINTEGER PRIMARY KEY\b"), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\)\s*WITHOUT ROWID\s*$"), ")"),
)
_REWRITES = (
    (re.compile(r"\bsqlite_master\b"), _SQLITE_MASTER),
    (re.compile(r"\bjson_group_array\(([^()]*)\)"), r"COALESCE(json_agg(\1)::text, '[]')"),
    (re.compile(r"\bBEGIN IMMEDIATE\b"), f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"),
)


@functools.lru_cache(maxsize=1024)
def translate(sql: str, with_params: bool = True) -> str:
    """SQLite's SQL as PostgreSQL runs it. `with_params`: placeholders (`?`, `:name`) become psycopg's and
    a literal `%` is doubled; without parameters the text may hold several statements and `%` stays."""
    trigger = _TRIGGER.search(sql)
    if trigger:
        return _trigger(*trigger.groups())
    if with_params:
        sql = _TOKENS.sub(_placeholder, sql)
    if _INSERT_OR.match(sql):
        sql = _INSERT_OR.sub("INSERT INTO", sql, count=1).rstrip() + " ON CONFLICT DO NOTHING"
    ddl = sql.lstrip().upper().startswith(("CREATE TABLE", "ALTER TABLE"))
    for pattern, replacement in (*_DDL_REWRITES, *_REWRITES) if ddl else _REWRITES:
        sql = pattern.sub(replacement, sql)
    return sql


def _placeholder(match: re.Match[str]) -> str:
    token = match.group(0)
    if token == "?":
        return "%s"
    if token == "%":
        return "%%"
    if match.group(1):
        return f"%({match.group(1)})s"
    return token.replace("%", "%%")  # a string literal


def _trigger(name: str, event: str, table: str, message: str) -> str:
    """SQLite's `BEFORE ... BEGIN SELECT RAISE(ABORT, msg); END` as a PostgreSQL function and trigger."""
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$ "
        f"BEGIN RAISE EXCEPTION '{message}' USING ERRCODE = 'restrict_violation'; END $body$; "
        f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"
    )


# --- the connection ---------------------------------------------------------------------------------


class PostgresRow(tuple[Any, ...]):
    """A row readable by position and by column name, and `dict(row)`-able, as `sqlite3.Row` is."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> PostgresRow:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(self._index[key])
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: Any) -> Any:
    names = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: PostgresRow(values, names)


class Cursor:
    """What a part reads back from `execute`: rows, `rowcount` and, after an INSERT, `lastrowid`."""

    def __init__(self, rows: list[PostgresRow], rowcount: int, lastrowid: int | None) -> None:
        self._rows = rows
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    def fetchone(self) -> Any:  # as sqlite3's: the caller knows whether a row must be there
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self) -> Iterator[PostgresRow]:
        return iter(self.fetchall())


Params = Sequence[Any] | Mapping[str, Any]


NUL_REFUSED = "PostgreSQL cannot store a NUL character (\\x00) in text: remove it from what was typed"


def _value(value: Any) -> Any:
    """SQLite stores a bool as 0/1 in an INTEGER column; PostgreSQL refuses a boolean there. PostgreSQL's
    text cannot hold NUL at all: refused as bad input (ValueError) before anything is written."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and "\x00" in value:
        raise ValueError(NUL_REFUSED)
    return value


def _plain(params: Params) -> Params:
    if isinstance(params, Mapping):
        return {k: _value(v) for k, v in params.items()}
    return [_value(v) for v in params]


class PostgresConnection:
    """A psycopg connection in autocommit mode (BEGIN/COMMIT are the record's own, as with SQLite)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn
        self.total_changes = 0
        self._identity: set[str] | None = None

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        text = translate(sql, bool(params))
        if text.startswith("BEGIN;"):
            return self._begin(text)
        returning = self._returning_id(text)
        with self.raw.cursor(row_factory=_row_factory) as cursor:
            if text.lstrip().upper().startswith(("CREATE", "ALTER", "DROP")):
                self._identity = None
            cursor.execute((text + returning).encode(), _plain(params) if params else None)
            rows = cursor.fetchall() if cursor.description is not None else []
            count = max(cursor.rowcount, 0)
        if _is_change(text):
            self.total_changes += count
        if returning:
            return Cursor([], count, int(rows[0][0]) if rows else None)
        return Cursor(rows, count, None)

    def executemany(self, sql: str, rows: Sequence[Params]) -> Cursor:
        text = translate(sql, True)
        with self.raw.cursor() as cursor:
            cursor.executemany(text.encode(), [_plain(r) for r in rows])
            count = max(cursor.rowcount, 0)
        self.total_changes += count
        return Cursor([], count, None)

    def _begin(self, text: str) -> Cursor:
        """BEGIN and the writers' lock as one step, as SQLite's BEGIN IMMEDIATE: when the lock is not had
        in time, no transaction is left open (the caller retries later, or reports DatabaseLocked)."""
        try:
            self.raw.execute(text.encode())
        except psycopg.Error:
            if self.in_transaction:
                self.raw.execute(b"ROLLBACK")
            raise
        return Cursor([], 0, None)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()

    @property
    def broken(self) -> bool:
        """The server went away under this connection (restarted, network lost): only a new one helps."""
        return bool(self.raw.closed or self.raw.broken)

    def _returning_id(self, text: str) -> str:
        """` RETURNING id` for an INSERT into a table whose `id` the server numbers (sqlite's lastrowid)."""
        found = re.match(r"\s*INSERT INTO (\w+)", text)
        if found is None or "RETURNING" in text.upper():
            return ""
        if self._identity is None:
            with self.raw.cursor() as cursor:
                cursor.execute(
                    "SELECT table_name FROM information_schema.columns WHERE column_name = 'id' "
                    "AND is_identity = 'YES' AND table_schema = current_schema()"
                )
                self._identity = {name for (name,) in cursor.fetchall()}
        return " RETURNING id" if found.group(1) in self._identity else ""


def _is_change(text: str) -> bool:
    return text.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))


def connect(url: str, busy_timeout: float) -> PostgresConnection:
    """A connection to the server at `url`, set up as the record needs it."""
    conn = psycopg.connect(
        url, autocommit=True, connect_timeout=max(2, int(busy_timeout) + 1), **DEAD_NETWORK_LIMITS
    )
    try:
        conn.adapters.register_loader("numeric", FloatLoader)  # SQLite's REAL arithmetic gives floats
        conn.execute(f"SET lock_timeout = {max(1, int(busy_timeout * 1000))}".encode())
        conn.execute("SET synchronous_commit = on")
    except BaseException:
        conn.close()
        raise
    return PostgresConnection(conn)


def prepare(conn: PostgresConnection) -> None:
    """Create what the record's SQLite-flavoured queries need on the server (idempotent). Called after
    the schema version was checked: a record written by a newer Companion is left untouched."""
    raw = conn.raw
    with raw.transaction():  # under the writers' lock: two programs connecting at once queue here
        raw.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})".encode())
        for statement in _SETUP:
            raw.execute(statement.encode())


def problem(exc: BaseException, path: Path, url: str) -> StorageError:
    """A server's or driver's failure as the StorageError a therapist can act on, naming the server."""
    if isinstance(exc, StorageError):
        return exc
    server = redacted(url)
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, psycopg.errors.LockNotAvailable | psycopg.errors.DeadlockDetected):
        return DatabaseLocked(
            path,
            f"The practice's record at {server} is locked by another program (another Companion or a "
            "maintenance task on the server): close the other program or wait a moment, then try again.",
        )
    if isinstance(exc, psycopg.errors.DiskFull | psycopg.errors.OutOfMemory):
        return DiskFull(
            path,
            f"The server holding the practice's record at {server} has no room left ({first_line}): ask "
            "whoever runs it to free disk space, then try again.",
        )
    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction | psycopg.errors.InsufficientPrivilege):
        return ReadOnlyLocation(
            path,
            f"Companion may not write the practice's record at {server} ({first_line}): give its database "
            "user write access, or connect as a user who has it (--database / COMPANION_DATABASE_URL).",
        )
    if isinstance(exc, psycopg.OperationalError) and (
        exc.sqlstate is None or exc.sqlstate.startswith(("08", "57P"))  # connection lost, server shut down
    ):
        return StorageError(
            path,
            f"Companion cannot reach the practice's record at {server} ({first_line}): check that the server "
            "is running and the URL given with --database / COMPANION_DATABASE_URL, then try again.",
        )
    return StorageError(
        path,
        f"The practice's record at {server} could not be written ({first_line}): check the server, then "
        "try again.",
    )
