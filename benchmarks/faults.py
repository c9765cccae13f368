"""Fault campaign against the session record (issue 14); prints one JSON document.

What a therapist's taps must survive, each tried for real (real processes, real files, real signals):

- `kill -9` at random moments: a writer process logs taps with `record.events.log` (counts, trials, long
  notes, bursts, undos) and reports an event's id only after `log` returned, i.e. once it is acknowledged; it
  is killed with SIGKILL after a random delay, again and again (`--kills`, default 100), each new writer
  opening what the last one left. Then the record is reopened: every acknowledged id must be stored.
- concurrent writers: N processes log into one session at once while some of them are killed;
- a program holding the lock, then crashing; a full disk and a read-only disk (a small tmpfs mounted here,
  root only); files turned read-only during a session (as an ordinary user); damaged and 0-byte databases;
  restoring a backup while a session writes. Each must give a clear error, let the session carry on, and
  lose nothing acknowledged.
- power loss: the settings that make an acknowledged tap durable, and (under strace) that no
  acknowledgement is sent before the fsync of what it wrote, and that new files' folders are fsynced.

Run: `.venv/bin/python benchmarks/faults.py [--kills 100] [--writers 8] [--dir DIR]` (DIR: where the records
live; default a temporary folder, choose the disk that will hold real data). `tests/test_record_faults.py`
runs the same functions in `make test` and asserts on what they return.

With `--database postgresql://USER@HOST/DB`, the probes about the record rather than SQLite's files run on
that server's record (an empty database: the campaign adds its clients there): `kill -9`, the concurrent
writers (each writer process is given the URL) and a lock held by a program that crashes, there the
writers' advisory lock taken in a transaction by another connection, with writer processes queued behind it.
On a server a tap counts as stored when the server holds it after the record was opened and closed once
more (what pushes anything a killed writer left in its data folder), asked of the server directly; none
may be there twice.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import itertools
import json
import os
import random
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

import psycopg

from companion.paths import database_path
from companion.record import Count, EventDraft, Note, Record, StorageError, Trial
from companion.record.backups import restore_backup
from companion.record.database import SIDECAR_SUFFIXES
from companion.record.postgres import WRITE_LOCK, redacted

KILLS = 100
MAX_KILL_DELAY_S = 0.15
"""Kills land anywhere from before the writer opened the record (it takes ~10-20 ms) to dozens of taps in."""
MAX_KILL_DELAY_ON_A_SERVER_S = 0.25
"""The same on a PostgreSQL record, which takes ~40-50 ms to open (a connection, then `prepare` under the
writers' lock): with 0.15 s a third of the kills landed before the first tap, half under load."""

Figures = dict[str, Any]


# -- the writers -----------------------------------------------------------------------------------------
class Writers:
    """Tap-writing processes forked on demand by one fresh interpreter (this file, run with --serve-writers).

    Why a fork server: starting Python and importing the record for each of 100+ kills would take most of
    the campaign, while forking a process that has done so costs milliseconds; and unlike forking the caller
    (pytest, with whatever threads and connections earlier tests left), it forks a clean process that never
    opened a database. A writer prints `ack PID ID` only after `record.events.log` returned: every such line
    read here is an acknowledged tap."""

    def __init__(self, data: Path, session_id: int, objective_id: int, database: str | None = None) -> None:
        server = [str(data), str(session_id), str(objective_id), *([database] if database else [])]
        self.server = subprocess.Popen(
            [sys.executable, __file__, "--serve-writers", *server],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.acks: dict[int, list[str]] = defaultdict(list)
        self.refusals = 0
        self.failures: list[str] = []
        self.running: set[int] = set()

    def start(self, taps: int, seed: int) -> int:
        """A writer that logs `taps` taps and closes the record (0: logs until killed); returns its pid."""
        pid = int(self._ask(f"start {taps} {seed}", "started")[0])
        self.running.add(pid)
        return pid

    def reap(self, pid: int) -> int:
        """Wait for a writer to end; its exit code (-9 when killed). Every line it wrote is read by then."""
        code = int(self._ask(f"reap {pid}", "reaped")[1])
        self.running.discard(pid)
        return code

    def wait(self, seconds: float) -> None:
        """Let the writers tap for `seconds`, reading what they say meanwhile: a pipe left full would stop
        them at their next acknowledgement."""
        assert self.server.stdout is not None
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if select.select([self.server.stdout], [], [], left)[0]:
                self._read_line()

    def wait_for_a_tap(self, pid: int) -> None:
        """Return once the writer has acknowledged a tap: it has the record open and is writing."""
        while not self.acks[pid]:
            self._read_line()

    def _ask(self, command: str, answer: str) -> list[str]:
        assert self.server.stdin is not None
        self.server.stdin.write(command + "\n")
        self.server.stdin.flush()
        while True:
            word, rest = self._read_line()
            if word == answer:
                return rest

    def _read_line(self) -> tuple[str, list[str]]:
        """The next line from the server or a writer; acknowledgements, refusals and failures are noted."""
        assert self.server.stdout is not None
        line = self.server.stdout.readline()
        if not line:
            raise RuntimeError(f"the writer server stopped (exit code {self.server.wait()})")
        word, *rest = line.split(maxsplit=2)
        if word == "ack":
            self.acks[int(rest[0])].extend(rest[1].split())
        elif word == "refused":
            self.refusals += 1
        elif word == "failed":
            self.failures.append(line.strip())
        return word, rest

    def __enter__(self) -> Writers:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for pid in self.running:  # a campaign that failed half-way leaves no writer tapping forever
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert self.server.stdin is not None
        self.server.stdin.close()
        self.server.wait(timeout=30)


def serve_writers(data: Path, session_id: int, objective_id: int, database: str | None) -> None:
    """The fork server's loop (see `Writers`): `start TAPS SEED` forks a writer, `reap PID` waits for one.
    `database`: the PostgreSQL record's URL every writer opens (None: the SQLite file in `data`)."""
    for line in sys.stdin:
        command, number, *seed = line.split()
        if command == "start":
            pid = os.fork()
            if pid == 0:
                write_taps(data, session_id, objective_id, int(number), int(seed[0]), database)
            say(f"started {pid}")
        else:
            _, status = os.waitpid(int(number), 0)
            say(f"reaped {number} {os.waitstatus_to_exitcode(status)}")


def say(line: str) -> None:
    """One line to the campaign in one write: lines under PIPE_BUF (4 KiB) from several writers never
    interleave."""
    os.write(1, (line + "\n").encode())


def acknowledge(event_ids: list[str]) -> None:
    """Tell the campaign these taps are durable, in lines short enough to be written whole."""
    for start in range(0, len(event_ids), 50):
        say(f"ack {os.getpid()} {' '.join(event_ids[start : start + 50])}")


def write_taps(
    data: Path, session_id: int, objective_id: int, taps: int, seed: int, database: str | None = None
) -> NoReturn:
    """A writer: opens the record and taps as the pad does; never returns. A refused tap stays pending (the
    next `log` writes it first, as in the app) and is acknowledged once written."""
    code = 0
    try:
        rng = random.Random(seed)
        record = Record.open(data, backup_every=None, database=database)
        undoable: list[str] = []
        for _ in range(taps) if taps else itertools.count():
            waiting = [event.id for event in record.events.pending()]
            try:
                written = tap(record, session_id, objective_id, rng, undoable)
            except StorageError:
                say(f"refused {os.getpid()}")
                continue
            acknowledge(waiting + written)
        waiting = [event.id for event in record.events.pending()]
        for attempt in itertools.count():
            try:
                record.events.flush()
                break
            except StorageError:
                if attempt == 100:
                    raise
                time.sleep(0.05)
        acknowledge(waiting)
        record.close()
    except BaseException as failure:  # reported to the campaign, which counts it as a failed writer
        say(f"failed {os.getpid()} {failure!r}"[:1000])
        code = 1
    os._exit(code)


def tap(
    record: Record, session_id: int, objective_id: int, rng: random.Random, undoable: list[str]
) -> list[str]:
    """One action of a therapist on the pad, chosen at random; the ids it logged."""
    draw = rng.random()
    if draw < 0.05 and undoable:
        return [record.events.undo(undoable.pop(rng.randrange(len(undoable)))).id]
    if draw < 0.15:  # a burst, as an import or a group's round writes
        events = record.events.log_many(
            session_id, [EventDraft(Count("turn")) for _ in range(rng.randint(2, 5))]
        )
    elif draw < 0.3:  # a long note spans several pages of the WAL
        events = [record.events.log(session_id, EventDraft(Note("observed " * rng.randint(1, 800))))]
    elif draw < 0.6:
        trial = Trial(rng.random() < 0.7, rng.choice(("independent", "verbal")))
        events = [record.events.log(session_id, EventDraft(trial, objective_id=objective_id))]
    else:
        events = [record.events.log(session_id, EventDraft(Count("initiation")))]
    undoable += [event.id for event in events]
    return [event.id for event in events]


def new_session(data: Path, database: str | None = None) -> tuple[int, int]:
    """A client with an objective and an open session in the record at `data` (on the server at `database`,
    when given): (session id, objective id)."""
    with Record.open(data, backup_every=None, database=database) as record:
        client = record.caseload.add_client("Ava")
        goal = record.caseload.add_goal(client.id, "communication", "Requests")
        objective = record.caseload.add_objective(goal.id, "Requests with a 2-word phrase")
        return record.sessions.start_session([client.id], "clinic").id, objective.id


def stored_ids(data: Path, session_id: int, database: str | None = None) -> list[str]:
    """Every event of the session the record holds (undone ones and tombstones too), in logging order.

    On a server (`database`), what the server itself holds once the record was opened and closed once more,
    asked directly rather than through a record: opening and closing are what push the taps a killed writer
    left in its data folder, and the server is where the practice reads them, so a tap that reached only the
    folder counts as lost here."""
    if database is not None:
        Record.open(data, backup_every=None, database=database).close()
        return server_ids(database, session_id)
    with Record.open(data, backup_every=None) as record:
        return [
            e.id for e in record.events.session_events(session_id, include_undone=True, include_pending=False)
        ]


def server_ids(database: str, session_id: int, after_seq: int = 0) -> list[str]:
    """The session's events on the server, in the order it stored them (those after `after_seq` only)."""
    with psycopg.connect(database, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT id FROM events WHERE session_id = %s AND seq > %s ORDER BY seq", (session_id, after_seq)
        )
        return [str(event_id) for (event_id,) in rows]


def integrity(data: Path) -> str:
    with Record.open(data, backup_every=None) as record:
        return str(record.database.query("PRAGMA integrity_check")[0][0])


def sound(data: Path, database: str | None) -> Figures:
    """What the storage must show after a campaign besides the taps: SQLite's integrity check of the file;
    on a server (whose files no killed client writes), that no tap was stored twice: neither its row (the
    id is UNIQUE there, so this is a check on the schema too) nor its audit entry, which a tap pushed twice
    would add again."""
    if database is None:
        return {"integrity": integrity(data)}
    twice = on_the_server(
        database,
        "SELECT (SELECT count(*) - count(DISTINCT id) FROM events) + (SELECT count(*) FROM (SELECT 1 FROM "
        "audit_log WHERE target = 'events' GROUP BY action, target_id, client_id HAVING count(*) > 1) AS a)",
    )
    return {"stored_twice": twice}


def on_the_server(database: str, sql: str, *params: object) -> Any:
    """The one value a query gives, asked of the server directly (not through a record)."""
    with psycopg.connect(database, autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()
    if row is None:
        raise RuntimeError(f"the server answered nothing to {sql}")
    return row[0]


def losses(acknowledged: list[str], stored: list[str]) -> Figures:
    """What a campaign is judged by: the acknowledged taps the record does not hold."""
    return {
        "taps_acknowledged": len(acknowledged),
        "taps_stored": len(stored),
        "lost": len(set(acknowledged) - set(stored)),
    }


def in_order(acknowledged: list[str], stored: list[str]) -> bool:
    """Whether the record holds these acknowledged taps in the order they were acknowledged."""
    wanted = set(acknowledged)
    return [event_id for event_id in stored if event_id in wanted] == acknowledged


# -- kill -9 and concurrent writers ----------------------------------------------------------------------
def kill_campaign(data: Path, kills: int = KILLS, seed: int = 14, database: str | None = None) -> Figures:
    """`kills` writers, one after another, each killed with SIGKILL after a random delay (see module doc);
    on the PostgreSQL server at `database` when given."""
    rng = random.Random(seed)
    session_id, objective_id = new_session(data, database)
    started = time.perf_counter()
    acknowledged: list[str] = []
    landed = before_first_tap = 0
    longest = MAX_KILL_DELAY_S if database is None else MAX_KILL_DELAY_ON_A_SERVER_S
    with Writers(data, session_id, objective_id, database) as writers:
        for _ in range(kills):
            pid = writers.start(0, rng.randrange(2**32))
            writers.wait(rng.uniform(0, longest))
            os.kill(pid, signal.SIGKILL)
            landed += writers.reap(pid) == -signal.SIGKILL
            taps = writers.acks.pop(pid, [])
            before_first_tap += not taps
            acknowledged += taps
    stored = stored_ids(data, session_id, database)
    return {
        "kills_tried": kills,
        "kills_landed": landed,
        "killed_before_the_first_tap": before_first_tap,
        **losses(acknowledged, stored),
        "order_kept": in_order(acknowledged, stored),
        "writer_failures": writers.failures,
        **sound(data, database),
        "seconds": round(time.perf_counter() - started, 1),
    }


def concurrent_writers(
    data: Path, writers: int = 8, taps: int = 120, killed: int = 3, seed: int = 8, database: str | None = None
) -> Figures:
    """`writers` processes tapping into one session at once: `killed` of them tap until each gets SIGKILL at
    a random moment (perhaps holding the write lock), the others log `taps` taps each and must finish.
    Nothing acknowledged by any of them may be missing. On the PostgreSQL server at `database` when given."""
    rng = random.Random(seed)
    session_id, objective_id = new_session(data, database)
    started = time.perf_counter()
    with Writers(data, session_id, objective_id, database) as server:
        pids = [server.start(0 if n < killed else taps, rng.randrange(2**32)) for n in range(writers)]
        for pid in pids[:killed]:
            server.wait(rng.uniform(0, 0.2))
            os.kill(pid, signal.SIGKILL)
        codes = [server.reap(pid) for pid in pids]
    stored = stored_ids(data, session_id, database)
    return {
        "writers": writers,
        "killed": codes.count(-signal.SIGKILL),
        "finished": codes.count(0),
        **losses([event_id for pid in pids for event_id in server.acks[pid]], stored),
        "order_kept": all(in_order(server.acks[pid], stored) for pid in pids),
        "refused_then_retried": server.refusals,
        "writer_failures": server.failures,
        **sound(data, database),
        "seconds": round(time.perf_counter() - started, 1),
    }


# -- a program holding the lock ---------------------------------------------------------------------------
HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
if sys.argv[2] == "exclusive":  # as some sync and backup tools open a file: readers are shut out too
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")
conn.execute("BEGIN IMMEDIATE")
conn.execute("CREATE TABLE written_by_another_program (never_committed)")
print("holding", flush=True)
time.sleep(600)
"""


HOLD_SERVER_LOCK = """
import sys, time, psycopg
conn = psycopg.connect(sys.argv[1])  # not in autocommit: what follows is one transaction, as a writer's
print("connected", conn.info.backend_pid, flush=True)
sys.stdin.readline()  # the campaign says when
conn.execute("SELECT pg_advisory_xact_lock(%s)", (int(sys.argv[2]),))
conn.execute("CREATE TABLE written_by_another_program (never_committed BIGINT)")
print("holding", flush=True)
time.sleep(600)
"""
"""The same on a PostgreSQL record: the writers' lock every writer of the record takes (WRITE_LOCK)."""


class Holder:
    """A program that will hold the record's lock (HOLD_LOCK or HOLD_SERVER_LOCK), killed -9 on leaving."""

    def __init__(self, program: str, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", program, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def said(self, word: str) -> list[str]:
        """The rest of the holder's next line, which must start with `word`."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if line[:1] != [word]:
            raise RuntimeError(f"the program meant to hold the lock said {line} instead of {word!r}")
        return line[1:]

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def __enter__(self) -> Holder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.process.kill()
        self.process.wait()


@contextlib.contextmanager
def held_by_another_program(db: Path, mode: str) -> Iterator[None]:
    """Another program holds the database's lock (`write`: a write transaction; `exclusive`: exclusive
    locking mode) with a write of its own under way, until it is killed -9 on leaving the block."""
    with Holder(HOLD_LOCK, str(db), mode) as holder:
        holder.said("holding")
        yield


def crashed_write_kept(data: Path, database: str | None = None) -> bool:
    """Whether the killed program's uncommitted write is in the record (it must not be)."""
    if database is not None:
        return bool(on_the_server(database, "SELECT to_regclass('written_by_another_program') IS NOT NULL"))
    with contextlib.closing(sqlite3.connect(database_path(data))) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    return "written_by_another_program" in tables


@contextlib.contextmanager
def private_cache() -> Iterator[Path]:
    """XDG_CACHE_HOME in a temporary folder while a probe runs: the rescue files a refused tap leaves there
    (the second rescue place) must not reach the cache of whoever runs the campaign."""
    before = os.environ.get("XDG_CACHE_HOME")
    with tempfile.TemporaryDirectory(prefix="companion-cache-") as cache:
        os.environ["XDG_CACHE_HOME"] = cache
        try:
            yield Path(cache)
        finally:
            if before is None:
                del os.environ["XDG_CACHE_HOME"]
            else:
                os.environ["XDG_CACHE_HOME"] = before


def locked_by_a_program_that_crashes(data: Path) -> Figures:
    """Another program takes the write lock while the therapist taps on, then is killed -9 holding it. The
    taps refused meanwhile must wait in memory and in a rescue file, the screen keep showing them, and all
    reach the record once the lock is gone; the crashed program's write must not."""
    with private_cache():
        record = Record.open(data, busy_timeout=0.1, backup_every=None)
        session = record.sessions.start_session([record.caseload.add_client("Ava").id], "clinic")
        figures, acknowledged = taps_through_a_crashed_lock(
            record, session.id, held_by_another_program(record.path, "write")
        )
    return {
        **figures,
        "crashed_programs_write_kept": crashed_write_kept(data),
        **losses(acknowledged, stored_ids(data, session.id)),
    }


def taps_through_a_crashed_lock(
    record: Record, session_id: int, held: contextlib.AbstractContextManager[object]
) -> tuple[Figures, list[str]]:
    """The therapist's side of a lock held by a program that then crashes (`held`: the lock is held inside,
    its holder killed -9 on leaving): a tap before, three while it is held, the refused ones written once it
    is gone, one tap after; then the record is closed. Returns the figures and the taps acknowledged."""
    acknowledged = [record.events.log(session_id, EventDraft(Count("initiation"))).id]
    refused: list[StorageError] = []
    started = time.monotonic()
    with held:
        for label in ("initiation", "turn", "initiation"):
            try:
                acknowledged.append(record.events.log(session_id, EventDraft(Count(label))).id)
            except StorageError as problem:
                refused.append(problem)
        mine = {*acknowledged, *(event.id for event in record.events.pending())}  # not other writers'
        shown = sum(event.id in mine for event in record.events.session_events(session_id))
        rescue = record.events.rescue_file
        rescued = len(rescue.read_text().splitlines()) if rescue else 0
        sync = record.events.sync  # a server record: taps wait in its outbox, and its sender says why
        while sync is not None and sync.problem is None and time.monotonic() - started < SERVER_WAIT_S:
            time.sleep(0.01)
        waiting = {"waiting_for_the_server": sync.waiting, "server_problem": sync.problem} if sync else {}
    held_ids = [event.id for event in record.events.pending()]
    flushed = record.events.flush()
    acknowledged += held_ids
    acknowledged.append(record.events.log(session_id, EventDraft(Count("after"))).id)
    record.close()
    figures = {
        "refused_taps": len(refused),
        "error": sorted({type(problem).__name__ for problem in refused}),
        "message": str(refused[0]) if refused else "",
        "taps_shown_while_locked": shown,
        "kept_in_rescue_file": rescued,
        "rescue_file_removed": rescue is not None and not rescue.exists(),
        "written_once_unlocked": flushed,
        **waiting,
    }
    return figures, acknowledged


SERVER_WAIT_S = 60.0
"""How long the server campaign waits for what must happen (writers queued on the lock, the lock released
after its holder's crash) before it reports that it did not."""


def locked_on_the_server_by_a_program_that_crashes(
    data: Path, database: str, writers: int = 2, taps: int = 100, seed: int = 16
) -> Figures:
    """The same on the PostgreSQL record at `database`, with `writers` more processes tapping into the
    session (`taps` each). Another program connects, takes the writers' lock (WRITE_LOCK) in a transaction
    with a write of its own under way, as a writer does, once the writers are tapping; the therapist taps
    meanwhile, and the program is killed -9 once every writer waits for the lock. The server must roll its
    write back and release the lock; the waiting writers then carry on and finish, and every tap any of them
    or the therapist was told is stored must be on the server, once."""
    rng = random.Random(seed)
    session_id, objective_id = new_session(data, database)
    started = time.perf_counter()
    crash: Figures = {"waiting_writers": writers}
    last_before_the_crash = 0

    @contextlib.contextmanager
    def held(server: Writers) -> Iterator[None]:
        nonlocal last_before_the_crash
        with Holder(HOLD_SERVER_LOCK, database, str(WRITE_LOCK)) as holder:
            backend = int(holder.said("connected")[0])
            pids = [server.start(taps, rng.randrange(2**32)) for _ in range(writers)]
            for pid in pids:
                server.wait_for_a_tap(pid)
            holder.go()
            holder.said("holding")
            yield
            crash["writers_seen_waiting_for_the_lock"] = wait_on_the_server(
                server, database, WAITING_FOR_THE_LOCK, lambda waiting: waiting >= writers
            )
            last_before_the_crash = on_the_server(database, "SELECT coalesce(max(seq), 0) FROM events")
        crash["seconds_until_the_server_released_the_lock"] = timed(
            lambda: wait_on_the_server(server, database, BACKENDS_OF, lambda alive: alive == 0, backend)
        )
        codes = [server.reap(pid) for pid in pids]
        crash["writers_finished"] = codes.count(0)
        crash["writers_acknowledged"] = [len(server.acks[pid]) for pid in pids]

    with private_cache(), Writers(data, session_id, objective_id, database) as server:
        record = Record.open(data, busy_timeout=0.1, backup_every=None, database=database)
        figures, acknowledged = taps_through_a_crashed_lock(record, session_id, held(server))
    writers_acknowledged = [event_id for acks in server.acks.values() for event_id in acks]
    stored = stored_ids(data, session_id, database)
    after_the_crash = set(server_ids(database, session_id, last_before_the_crash))
    return {
        **figures,
        "names_the_server": redacted(database) in figures["message"],
        **crash,
        "writers_taps_stored_after_the_crash": [len(after_the_crash & set(a)) for a in server.acks.values()],
        "writers_refused_then_retried": server.refusals,
        "writer_failures": server.failures,
        "crashed_programs_write_kept": crashed_write_kept(data, database),
        **losses(acknowledged + writers_acknowledged, stored),
        "lost_by_each_writer": [len(set(acks) - set(stored)) for acks in server.acks.values()],
        "order_kept": all(in_order(acks, stored) for acks in [acknowledged, *server.acks.values()]),
        **sound(data, database),
        "seconds": round(time.perf_counter() - started, 1),
    }


WAITING_FOR_THE_LOCK = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
    f"AND classid = 0 AND objid = {WRITE_LOCK} AND objsubid = 1"
)
"""The server's connections waiting for the writers' lock (a bigint advisory key: high half in classid,
low half in objid, objsubid 1)."""
BACKENDS_OF = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s"
"""Whether a connection's server process is still there: when it has gone, so have its locks."""


def wait_on_the_server(
    server: Writers, database: str, sql: str, done: Callable[[int], bool], *params: object
) -> int:
    """Ask the server `sql` until `done` says its answer is the awaited one (reading the writers meanwhile,
    so none stops on a full pipe); its last answer. Raises after SERVER_WAIT_S: what was awaited never
    came."""
    deadline = time.monotonic() + SERVER_WAIT_S
    while not done(answer := int(on_the_server(database, sql, *params))):
        if time.monotonic() > deadline:
            raise RuntimeError(f"waited {SERVER_WAIT_S} s on the server: {sql} {params} still {answer}")
        server.wait(0.01)
    return answer


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return round(time.perf_counter() - started, 3)


def locked_exclusively_when_opening(data: Path) -> Figures:
    """A program holds the record in exclusive locking mode (reads shut out too) when a session starts.
    (It cannot take that lock while a session has the record open: SQLite refuses it.) Opening must be
    refused with a clear DatabaseLocked; once the program is killed -9, the record opens with every tap."""
    with Record.open(data, backup_every=None) as record:
        session = record.sessions.start_session([record.caseload.add_client("Ava").id], "clinic")
        acknowledged = [record.events.log(session.id, EventDraft(Count("initiation"))).id for _ in range(3)]
    with held_by_another_program(database_path(data), "exclusive"):
        try:
            Record.open(data, busy_timeout=0.1, backup_every=None).close()
            error, message = "none", "opened"
        except StorageError as refused:
            error, message = type(refused).__name__, str(refused)
    with Record.open(data, backup_every=None) as record:
        acknowledged.append(record.events.log(session.id, EventDraft(Count("after"))).id)
    return {
        "error": error,
        "message": message,
        "crashed_programs_write_kept": crashed_write_kept(data),
        **losses(acknowledged, stored_ids(data, session.id)),
    }


# -- small real disks (tmpfs, root only) -----------------------------------------------------------------
def can_mount() -> str | None:
    """Why a small disk cannot be mounted here, or None when it can."""
    return None if os.geteuid() == 0 else "mounting a small tmpfs needs root"


@contextlib.contextmanager
def small_disk(size: str = "2m") -> Iterator[Path]:
    """A real filesystem of `size` (a tmpfs mounted for the probe, root only), unmounted afterwards."""
    mount_point = Path(tempfile.mkdtemp(prefix="companion-disk-"))
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "companion-faults", str(mount_point)],
        check=True,
        capture_output=True,
    )
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True).returncode:
            subprocess.run(["umount", "-l", str(mount_point)], check=True)  # a file left open by a failure
        mount_point.rmdir()


def remount(mount_point: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(mount_point)], check=True, capture_output=True)


def fill(path: Path, leave: int = 0) -> None:
    """Write zeros to `path` until only `leave` bytes of its disk are free; with 0, until the disk is full
    (the last writes are partial, then ENOSPC)."""
    if leave:
        with path.open("wb") as file:
            file.write(b"\0" * max(0, shutil.disk_usage(path.parent).free - leave))
        return
    with path.open("wb", buffering=0) as file:
        try:
            while True:
                file.write(b"\0" * 65536)
        except OSError as full:
            if full.errno != errno.ENOSPC:
                raise


def first_open_on_a_nearly_full_disk(disk: Path, free_kb: range = range(4, 200, 4)) -> Figures:
    """A brand-new record created on a disk with only `free_kb` kilobytes left, for each: the first
    migration runs out of space somewhere different each time. Found by the audit (issue 14, item 6): it
    said "cannot rollback - no transaction is active" (SQLite had rolled back already), and a WAL or
    shared-memory write refused by the full disk was "disk I/O error"; each must be a DiskFull."""
    outcomes: dict[str, int] = {}
    odd: dict[int, str] = {}
    for kb in free_kb:
        for leftover in disk.iterdir():
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        fill(disk / "filler", leave=kb * 1024)
        try:
            Record.open(disk / "data", backup_every=None).close()
            outcome = "opened"
        except StorageError as problem:
            outcome = type(problem).__name__
            if outcome != "DiskFull":
                odd[kb] = str(problem)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {"tried": len(free_kb), "outcomes": outcomes, "not_disk_full": odd}


def full_disk(disk: Path) -> Figures:
    """The disk holding the record fills up during a session: taps are refused with DiskFull and kept (in
    memory and in a rescue file on another disk), a backup and a new record on that disk are refused cleanly
    (nothing half-written left), and once space is freed every kept tap is written and the session goes on."""
    data = disk / "data"
    with private_cache() as cache:
        record = Record.open(data, backup_every=None)
        session = record.sessions.start_session([record.caseload.add_client("Ava").id], "clinic")
        acknowledged = [record.events.log(session.id, EventDraft(Count("initiation"))).id for _ in range(3)]
        filler = disk / "someone-elses-video"
        fill(filler)
        refused: list[StorageError] = []
        for n in range(500):
            try:
                acknowledged.append(
                    record.events.log(session.id, EventDraft(Note(f"note {n} " + "x" * 2000))).id
                )
            except StorageError as problem:
                refused.append(problem)
                if len(refused) == 3:
                    break
        before_full = len(acknowledged)
        rescue = record.events.rescue_file
        try:
            record.backups.backup_now()
            backup = "written"
        except StorageError as problem:
            backup = f"{type(problem).__name__}: {problem}"
        try:
            Record.open(disk / "new-practice", backup_every=None).close()
            new_record = "opened"
        except StorageError as problem:
            new_record = f"{type(problem).__name__}: {problem}"
        half_written = [p.name for p in disk.rglob("*") if ".partial" in p.name or ".new-" in p.name]
        held = [event.id for event in record.events.pending()]
        filler.unlink()
        flushed = record.events.flush()
        acknowledged += held
        acknowledged.append(record.events.log(session.id, EventDraft(Count("after"))).id)
        record.close()
        kept_in = (
            "nowhere" if rescue is None else "the cache folder" if cache in rescue.parents else str(rescue)
        )
    return {
        "taps_before_full": before_full,
        "refused_taps": len(refused),
        "error": sorted({type(problem).__name__ for problem in refused}),
        "message": str(refused[0]) if refused else "",
        "kept_in_rescue_file_in": kept_in,
        "backup_on_the_full_disk": backup,
        "new_record_on_the_full_disk": new_record,
        "half_written_files_left": half_written,
        "written_once_space_freed": flushed,
        **losses(acknowledged, stored_ids(data, session.id)),
    }


def read_only_disk(disk: Path) -> Figures:
    """The disk holding the record is mounted read-only (a USB stick's lock switch, a filesystem remounted
    read-only after an error): opening the record says so and does not suggest chmod; remounted writable,
    everything is there and the session goes on. (A disk cannot be remounted read-only while the record is
    open for writing: the kernel refuses with EBUSY, so that moment cannot occur.)"""
    data = disk / "data"
    with Record.open(data, backup_every=None) as record:
        session = record.sessions.start_session([record.caseload.add_client("Ava").id], "clinic")
        acknowledged = [record.events.log(session.id, EventDraft(Count("initiation"))).id for _ in range(5)]
    remount(disk, "ro")
    try:
        Record.open(data, backup_every=None).close()
        problem: str = "opened"
        error = "none"
    except StorageError as refused:
        problem, error = str(refused), type(refused).__name__
    finally:
        remount(disk, "rw")
    with Record.open(data, backup_every=None) as record:
        acknowledged.append(record.events.log(session.id, EventDraft(Count("after"))).id)
    return {"error": error, "message": problem, **losses(acknowledged, stored_ids(data, session.id))}


def read_only_files_mid_session(folder: Path) -> str:
    """As an ordinary user (see `as_an_ordinary_user`): the record's files and folder turn read-only during a
    session (a sync tool, a chmod). The open record keeps its files open, so taps go on being stored, and a
    backup must be refused clearly. Closed there, SQLite cannot remove the WAL; reopened while read-only
    (SQLite then opens it read-only), a tap must be refused with the fix named and kept, and written once
    the files are writable again; nothing refused or acknowledged may be missing in the end. Returns the
    figures as JSON (the work may run in a child that dropped root)."""
    data = folder / "data"
    db = database_path(data)
    files = [db.with_name(db.name + suffix) for suffix in ("", *SIDECAR_SUFFIXES)]
    record = Record.open(data, backup_every=None)
    session = record.sessions.start_session([record.caseload.add_client("Ava").id], "clinic")
    acknowledged = [record.events.log(session.id, EventDraft(Count("initiation"))).id]
    for file in files:
        file.chmod(0o400)
    data.chmod(0o500)
    refused = []
    for _ in range(3):
        try:
            acknowledged.append(record.events.log(session.id, EventDraft(Count("initiation"))).id)
        except StorageError as problem:
            refused.append(type(problem).__name__)
    backup = outcome(record.backups.backup_now)
    record.close()
    record = Record.open(data, backup_every=None)
    reopened = outcome(lambda: record.events.log(session.id, EventDraft(Count("initiation"))))
    kept = [event.id for event in record.events.pending()]
    data.chmod(0o700)
    for file in files:
        with contextlib.suppress(FileNotFoundError):
            file.chmod(0o600)
    flushed = outcome(record.events.flush)
    record.database.close()  # the therapist quits: anything still pending lives on in its rescue file
    with Record.open(data, backup_every=None) as record:
        acknowledged.append(record.events.log(session.id, EventDraft(Count("after"))).id)
    stored = stored_ids(data, session.id)
    return json.dumps(
        {
            "refused_taps_while_open": refused,
            "backup_while_read_only": backup,
            "tap_after_reopening_read_only": reopened,
            "flush_once_writable": flushed,
            "refused_taps_stored_in_the_end": bool(kept) and set(kept) <= set(stored),
            **losses(acknowledged, stored),
        }
    )


def outcome(action: Callable[[], object]) -> str:
    """What became of an action: "done", or the error's class and message. OSError too: the read-only probe
    found a backups folder that cannot be made raising PermissionError instead of a StorageError."""
    try:
        action()
    except (StorageError, OSError) as problem:
        return f"{type(problem).__name__}: {problem}"
    return "done"


# -- damaged records and restoring ------------------------------------------------------------------------
def _scribble(db: Path, offset: int, length: int) -> None:
    with db.open("r+b") as file:
        file.seek(offset)
        file.write(b"\xa5" * length)


PAGE = 4096
DAMAGE: dict[str, Callable[[Path], None]] = {
    "zero bytes": lambda db: db.write_bytes(b""),
    "truncated": lambda db: os.truncate(db, db.stat().st_size // 2 + 100),
    "header overwritten": lambda db: _scribble(db, 0, 100),
    "page scribbled": lambda db: _scribble(db, 3 * PAGE, 64),  # an interior b-tree page's header
}
"""What sync tools, bad copies and failing disks do to a file, each done to a record that has a backup."""


def damaged_record(data: Path, damage: str) -> Figures:
    """A record with a backup is damaged (see DAMAGE): opening it must be refused with the backup to restore
    named and nothing written over the file or the backups; `restore_backup` (what `companion backups
    restore` runs) must then bring back the backup's taps, keep the damaged file aside and let the session
    go on. Taps after the last backup went with the damage: a damaged file is why backups exist."""
    with Record.open(data, backup_every=None) as record:
        session = record.sessions.start_session([record.caseload.add_client("Ava").id], "clinic")
        notes = record.events.log_many(session.id, [EventDraft(Note("n" * 300)) for _ in range(60)])
        record.backups.backup_now()
        record.events.log_many(session.id, [EventDraft(Count("initiation")) for _ in range(20)])
    db = database_path(data)
    DAMAGE[damage](db)
    damaged = db.read_bytes()
    backups = {path: path.read_bytes() for path in (data / "backups").iterdir()}
    try:
        Record.open(data, backup_every=None).close()
        error, message = "none", "opened"
    except StorageError as refused:
        error, message = type(refused).__name__, str(refused)
    untouched = (
        db.read_bytes() == damaged and {p: p.read_bytes() for p in (data / "backups").iterdir()} == backups
    )
    _, aside = restore_backup(data, db)
    with Record.open(data, backup_every=None) as record:
        record.events.log(session.id, EventDraft(Count("after")))
    restored = stored_ids(data, session.id)
    return {
        "damage": damage,
        "error": error,
        "message": message,
        "names_the_backups": str(data / "backups") in message and "companion backups restore" in message,
        "left_untouched": untouched,
        "restored_taps_of_the_backup": len({note.id for note in notes} & set(restored)),
        "taps_in_the_backup": len(notes),
        "damaged_file_kept_aside": aside is not None and aside.read_bytes() == damaged,
    }


def restore_during_session(data: Path, attempts: int = 5, seed: int = 5) -> Figures:
    """`companion backups restore` tried again and again while a session is writing: each attempt must be
    refused with nothing changed; the session's process is then killed -9 (its last taps only in the WAL)
    and the restore, tried once more, succeeds: the replaced record, kept aside with its WAL, must hold
    every acknowledged tap."""
    rng = random.Random(seed)
    session_id, objective_id = new_session(data)
    with Record.open(data, backup_every=None) as record:
        record.backups.backup_now()
    db = database_path(data)
    refusals: list[str] = []
    with Writers(data, session_id, objective_id) as writers:
        pid = writers.start(0, seed)
        writers.wait_for_a_tap(pid)
        for _ in range(attempts):
            writers.wait(rng.uniform(0.02, 0.1))
            try:
                restore_backup(data, db)
                refusals.append("restored while the record was open")
            except StorageError as refused:
                refusals.append(str(refused))
        os.kill(pid, signal.SIGKILL)
        writers.reap(pid)
    acknowledged = writers.acks[pid]
    changed = sorted(p.name for p in data.glob("*.replaced-*"))
    _, aside = restore_backup(data, db)
    assert aside is not None
    replaced = data.parent / f"{data.name}-replaced"
    replaced.mkdir(mode=0o700)
    for part in data.glob(aside.name + "*"):  # the replaced record, opened as a record of its own
        part.rename(replaced / part.name.replace(aside.name, db.name))
    refused = [r for r in refusals if "is open in another program" in r]
    return {
        "restores_tried_while_writing": attempts,
        "refused": len(refused),
        "message": refused[0] if refused else "",
        "changed_while_refused": changed,
        "restored_session_is_the_backups": stored_ids(data, session_id) == [],
        **losses(acknowledged, stored_ids(replaced, session_id)),
    }


# -- power loss ---------------------------------------------------------------------------------------------
TAP_UNDER_STRACE = """
import os, sqlite3, sys
from pathlib import Path
from companion.record import Count, DatabaseLocked, EventDraft, Record
record = Record.open(Path(sys.argv[1]), busy_timeout=0.05, backup_every=None)  # a new record in a new folder
record.database.connection.execute(f"PRAGMA synchronous={sys.argv[3]}")
print("synchronous", record.database.query("PRAGMA synchronous")[0][0], flush=True)
print("journal_mode", record.database.query("PRAGMA journal_mode")[0][0], flush=True)
session = record.sessions.start_session([record.caseload.add_client("Ava").id], "clinic")
for _ in range(int(sys.argv[2])):
    os.write(1, f"ack {record.events.log(session.id, EventDraft(Count('initiation'))).id}\\n".encode())
blocker = sqlite3.connect(record.path, isolation_level=None)
blocker.execute("BEGIN IMMEDIATE")
try:
    record.events.log(session.id, EventDraft(Count("initiation")))
except DatabaseLocked:
    os.write(1, f"rescued {record.events.rescue_file}\\n".encode())
blocker.execute("ROLLBACK")
record.close()
"""
SYSCALL = re.compile(r"^\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)(?:<(.*)>)?$")
"""One line of `strace -f -y`: pid, call, arguments, result (and the result's path when it is a new fd)."""
FD_PATH = re.compile(r"^\d+<(.*?)>")
NEW_NAME = ("link", "linkat", "rename", "renameat", "renameat2", "mkdir", "mkdirat")
SYNCHRONOUS = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def power_loss(folder: Path, taps: int = 20, synchronous: str = "FULL") -> Figures:
    """What can be checked here of surviving a power cut (a disk's cache cannot be cut off in a test): the
    settings, and, under strace, the order of the system calls a writer makes on a new record. Every
    acknowledgement must come after the fsync of the WAL it wrote; a new database, the WAL and a rescue file
    must each have their folder fsynced before anything depends on them. `synchronous` is set again after
    opening (FULL, what the record sets, changes nothing; NORMAL shows what the check catches)."""
    if shutil.which("strace") is None:
        return {"skipped": "strace is not installed"}
    folder.mkdir(parents=True, exist_ok=True)
    trace = folder / "trace"
    env = {**os.environ, "XDG_CACHE_HOME": str(folder / "cache")}
    calls = "openat,write,pwrite64,fsync,fdatasync,unlink,unlinkat," + ",".join(NEW_NAME)
    strace = ["strace", "-f", "-qq", "-y", "-s", "256", "-e", "signal=none", "-e", f"trace={calls}"]
    writer = [sys.executable, "-c", TAP_UNDER_STRACE, str(folder / "data"), str(taps), synchronous]
    run = subprocess.run(
        [*strace, "-o", str(trace), *writer], capture_output=True, text=True, env=env, timeout=120
    )
    if run.returncode:
        raise RuntimeError(f"the traced writer failed: {run.stderr}")
    said = dict(line.split(maxsplit=1) for line in run.stdout.splitlines() if not line.startswith("ack"))
    return {
        "synchronous": SYNCHRONOUS[int(said["synchronous"])],
        "journal_mode": said["journal_mode"],
        **synced_before_acknowledged(trace.read_text(), folder),
    }


def synced_before_acknowledged(trace: str, folder: Path) -> Figures:
    """Read an strace log of a writer whose files are all under `folder`: how many acknowledgements came
    before the fsync of the WAL they wrote, and which new names (files created, linked, renamed, folders
    made) had not been synced into their folder when a tap was acknowledged or rescued."""
    wal = str(database_path(folder / "data")) + "-wal"
    wal_unsynced = False
    acks = acks_before_sync = 0
    seen: set[str] = set()  # files that exist: opening one again with O_CREAT creates nothing
    unsynced: dict[str, str] = {}  # folder -> the last new name in it (under `folder`) not yet synced
    missed: dict[str, set[str]] = defaultdict(set)
    for line in trace.splitlines():
        found = SYSCALL.match(line)
        if found is None or int(found[3]) < 0:
            continue
        call, args, opened = found[1], found[2], found[4]
        fd = FD_PATH.match(args)
        path = fd[1] if fd else ""
        named = re.findall(r'"([^"]+)"', args)
        new = ""
        if call == "pwrite64" and path == wal:
            wal_unsynced = True
        elif call in ("fsync", "fdatasync"):
            wal_unsynced = wal_unsynced and path != wal
            unsynced.pop(path, None)
        elif call == "write" and args.split(", ")[1].startswith(('"ack ', '"rescued ')):
            moment = "an acknowledged tap" if '"ack ' in args else "a rescued tap"
            acks += moment == "an acknowledged tap"
            acks_before_sync += wal_unsynced and moment == "an acknowledged tap"
            missed[moment] |= set(unsynced.values())
        elif call == "openat" and "O_CREAT" in args and opened and opened not in seen:
            new = opened
        elif call in ("unlink", "unlinkat") and named:
            seen.discard(named[-1])
        elif call in NEW_NAME and named:
            new = named[-1]
        if new:
            seen.add(new)
            if Path(new).is_relative_to(folder):  # not Python's own bytecode cache, say
                unsynced[str(Path(new).parent)] = f"{call} {new}"
    return {
        "acknowledgements_traced": acks,
        "acknowledged_before_the_wal_was_fsynced": acks_before_sync,
        "folders_not_fsynced": {moment: sorted(names) for moment, names in missed.items() if names},
    }


# -- the campaign -------------------------------------------------------------------------------------------
def campaign(root: Path, kills: int, writers: int) -> Figures:
    """Every probe, each in its own folder under `root`; the small disks only when they can be mounted."""
    from support.ordinary_user import as_an_ordinary_user  # brings the CLI, which the writers must not load

    def folder(name: str) -> Path:
        return root / name / "data"

    results: Figures = {
        "benchmark": "faults",
        "kill_minus_nine": kill_campaign(folder("kills"), kills),
        "concurrent_writers": concurrent_writers(folder("writers"), writers),
        "locked_mid_session": locked_by_a_program_that_crashes(folder("locked")),
        "locked_exclusively_when_opening": locked_exclusively_when_opening(folder("locked-exclusively")),
        "read_only_files": json.loads(as_an_ordinary_user(read_only_files_mid_session)),
        "damaged": [damaged_record(folder(f"damaged-{n}"), damage) for n, damage in enumerate(DAMAGE)],
        "restore_during_session": restore_during_session(folder("restore")),
        "power_loss": power_loss(root / "power"),
    }
    why_not = can_mount()
    disk_probes = (
        ("full_disk", full_disk),
        ("first_open_on_a_nearly_full_disk", first_open_on_a_nearly_full_disk),
        ("read_only_disk", read_only_disk),
    )
    for name, probe in disk_probes:
        if why_not:
            results[name] = {"skipped": why_not}
            continue
        with small_disk() as disk:
            results[name] = probe(disk)
    return results


def server_campaign(root: Path, kills: int, writers: int, database: str) -> Figures:
    """The probes about the record rather than SQLite's files, on the PostgreSQL server at `database`: all
    in that one database, each with its own data folder under `root` (where its rescue files go)."""
    return {
        "benchmark": "faults",
        "database": redacted(database),
        "kill_minus_nine": kill_campaign(root / "kills" / "data", kills, database=database),
        "concurrent_writers": concurrent_writers(root / "writers" / "data", writers, database=database),
        "locked_mid_session": locked_on_the_server_by_a_program_that_crashes(
            root / "locked" / "data", database
        ),
    }


def main() -> None:
    if sys.argv[1:2] == ["--serve-writers"]:
        database = sys.argv[5] if len(sys.argv) > 5 else None
        serve_writers(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), database)
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=KILLS, help=f"writers to kill -9 (default {KILLS})")
    parser.add_argument("--writers", type=int, default=8, help="processes writing at once (default 8)")
    parser.add_argument("--dir", type=Path, help="folder for the records (default: a temporary folder)")
    parser.add_argument(
        "--database",
        metavar="URL",
        help="a postgresql:// URL: run the kill, writers and lock probes on that server's record instead",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        if args.database:
            figures = server_campaign(Path(tmp), args.kills, args.writers, args.database)
        else:
            figures = campaign(Path(tmp), args.kills, args.writers)
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
