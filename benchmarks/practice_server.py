"""A practice on one PostgreSQL server (issue 16): several therapists' tabs tapping at once while the server
is restarted mid-run; prints one JSON document.

What is measured, and how:

- a practice with staff: an admin and `--tabs` therapists (default 10), each with a client of their own, an
  objective and a session. Passwords are hashed with the test suite's cheap argon2 parameters
  (`support.staffed.QUICK`): sign-in cost is not what is measured here;
- each tab is a separate OS process, as `companion serve` runs one app process per browser tab, all sharing
  one data folder (as one serve instance does) and the one server, each signed in as its therapist. A tab
  logs taps through the live session the app uses (`LiveSession.start`, then `commit` of a trial at a
  prompt level, a count or a note), `--rate` taps per second with random spacing (a therapist taps a few a
  second at most; `--stress`: back to back);
- tap-to-durable: from the call of `commit` to its return (the event is then durable in the tab's outbox,
  and normally on the server too: how many were is counted), p50/p99/max overall, for the taps made while
  the server was down and for the others;
- mid-run the server is stopped (`pg_ctl stop -m fast`), left down `--outage` seconds and started again,
  while the tabs keep tapping; meanwhile each tab's `record.events.sync.waiting` is sampled: the peak
  number waiting in all tabs' outboxes, and how long after the server was back until every tab's was empty;
- then the server is read directly (psycopg): every acknowledged tap must be there exactly once, in its
  tab's order, with one audit entry naming its therapist. `lost`, `duplicated` or a broken order make the
  run exit with status 1.

Run: `.venv/bin/python benchmarks/practice_server.py [--tabs 10] [--seconds 30] [--rate 4 | --stress]
[--outage 3] [--dir DIR]` (a private server is started with `tests/support/postgres.py`; PostgreSQL's
server programs must be installed: `scripts/system-deps.sh test`). With `--database URL` it uses an empty
database on an existing server instead, and `--restart-command CMD` restarts that server (without it
the run has no restart).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import psycopg  # noqa: E402
from figures import percentiles  # noqa: E402
from support.postgres import PostgresServer, PostgresUnavailable, private_postgres  # noqa: E402
from support.staffed import PASSWORD, QUICK  # noqa: E402

from companion.live.session_controller import LiveSession  # noqa: E402
from companion.record import EventDraft, Record, StorageError  # noqa: E402

TABS = 10
SECONDS = 30.0
RATE = 4.0
"""Taps per second per tab: a therapist taps a few a second at most (a burst of trials, then a pause)."""
OUTAGE_S = 3.0
SAMPLE_S = 0.02
"""How often each tab looks at its number waiting (the peak and the drain time are this precise)."""
UNAVAILABLE = 3
"""The exit status when no private server can be started (1: something acknowledged is missing or out of
order on the server): the test suite skips on it, or fails in CI."""
DRAIN_LIMIT_S = 120.0
"""How long a tab waits, after its last tap, for its outbox to empty before it reports what still waits."""
NOTES = ("sang the hello song", "reached for the drum unprompted", "turned away at the transition " * 3)

Figures = dict[str, Any]


# -- the practice ----------------------------------------------------------------------------------------
def staff_the_practice(data: Path, url: str, tabs: int) -> list[Figures]:
    """An admin and `tabs` therapists, each with a client of their own with one objective: what each tab
    needs to sign in and start its session ({"name", "client"})."""
    with Record.open(data, database=url, backup_every=None) as record:
        if record.staff.exist():
            where = url.split("@")[-1]
            raise SystemExit(f"{where} already has staff: give the benchmark an empty one (`createdb NAME`)")
        record.staff.hasher = QUICK
        record.staff.add("Ada", PASSWORD, "MT-BC", role="admin")
        record.staff.sign_in("Ada", PASSWORD)
        therapists = []
        for n in range(1, tabs + 1):
            member = record.staff.add(f"Therapist {n}", PASSWORD, "MT-BC", role="therapist")
            client = record.caseload.add_client(f"Client {n}")
            record.sharing.assign(client.id, member.id)
            goal = record.caseload.add_goal(client.id, "communication", "Requests")
            record.caseload.add_objective(goal.id, "Requests an instrument with a 2-word phrase")
            therapists.append({"name": member.name, "client": client.id})
    return therapists


# -- one tab (its own process) ---------------------------------------------------------------------------
class WaitingSamples:
    """A thread noting each change of the tab's number waiting for the server, and every problem it gave."""

    def __init__(self, record: Record) -> None:
        sync = record.events.sync
        assert sync is not None
        self._sync = sync
        self.changes: list[tuple[float, int]] = []
        self.problems: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self._sample()

    def _sample(self) -> None:
        waiting, problem = self._sync.waiting, self._sync.problem
        if not self.changes or self.changes[-1][1] != waiting:
            self.changes.append((round(time.monotonic(), 4), waiting))
        if problem is not None:
            self.problems.add(problem)

    def stop(self) -> None:
        """Stop, noting the state at this moment: the outbox emptied since the last sample is counted."""
        self._stop.set()
        self._thread.join()
        self._sample()


def next_draft(live: LiveSession, rng: random.Random) -> EventDraft:
    """What a therapist taps: mostly trials at a prompt level, some counts, a few notes."""
    draw = rng.random()
    if draw < 0.7:
        return live.draft_trial(rng.random() < 0.7, rng.randrange(len(live.prompt_levels)))
    if draw < 0.9:
        return live.draft_count()
    return live.draft_note(rng.choice(NOTES))


class Tapping:
    """What a tab's taps came to: the ids acknowledged in its order, each timed tap (start, seconds), the
    taps the live session refused (kept pending: acknowledged once a later write saves them) and the taps
    already on the server when `commit` returned."""

    def __init__(self, live: LiveSession) -> None:
        self._live = live
        self.acknowledged: list[str] = []
        self.timed: list[tuple[float, float]] = []
        self.problems: set[str] = set()
        self.refused = self.on_the_server = 0

    def tap(self, draft: EventDraft) -> None:
        sync = self._live.record.events.sync
        assert sync is not None
        started = time.monotonic()
        update = self._live.commit(draft)
        took = time.monotonic() - started
        there = sync.waiting == 0  # a tab's taps are serial: if nothing waits, this one is on the server
        known = set(self.acknowledged)
        self.acknowledged += [entry.id for entry in update.entries if entry.saved and entry.id not in known]
        if update.problem is None:
            self.timed.append((round(started, 4), took))
            self.on_the_server += there
        else:
            self.refused += 1
            self.problems.add(update.problem)


def run_tab(spec: Figures) -> None:
    """A tab: sign in, start the session, say "ready", tap from the moment the "go" line names until
    `seconds` later, wait for the outbox to empty, end the session and print what happened as JSON."""
    rng = random.Random(spec["seed"])
    record = Record.open(Path(spec["data"]), database=spec["url"], backup_every=None)
    record.staff.hasher = QUICK
    who = record.staff.sign_in(spec["name"], PASSWORD)
    live = LiveSession.start(record, [spec["client"]], "clinic")
    sync = record.events.sync
    assert sync is not None
    print("ready", flush=True)
    go = due = float(sys.stdin.readline().split()[1])
    samples = WaitingSamples(record)
    tapping = Tapping(live)
    while due < go + spec["seconds"]:
        time.sleep(max(0.0, due - time.monotonic()))
        tapping.tap(next_draft(live, rng))
        due = due + rng.uniform(0.25, 1.75) / spec["rate"] if spec["rate"] else time.monotonic()
    deadline = time.monotonic() + DRAIN_LIMIT_S
    while sync.waiting and time.monotonic() < deadline:
        time.sleep(SAMPLE_S)
    samples.stop()
    try:
        live.end()
        ended = "ended"
    except StorageError as exc:
        ended = str(exc)
    report = {
        "name": spec["name"],
        "signature": who.signature,
        "session": live.session.id,
        "acknowledged": tapping.acknowledged,
        "taps": tapping.timed,
        "on_the_server_at_return": tapping.on_the_server,
        "refused": tapping.refused,
        "pending_at_end": len(record.events.pending()),
        "waiting_at_end": sync.waiting,
        "waiting": samples.changes,
        "problems": sorted(samples.problems | tapping.problems),
        "session_end": ended,
    }
    record.close()
    print(json.dumps(report), flush=True)


# -- the run ---------------------------------------------------------------------------------------------
class Tabs:
    """The tab processes: started, told when to begin, and their reports read back."""

    def __init__(self, specs: list[Figures]) -> None:
        self.processes = [
            subprocess.Popen(
                [sys.executable, __file__, "--tab", json.dumps(spec)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for spec in specs
        ]

    def ready(self) -> None:
        for process in self.processes:
            self._line(process)

    def go(self, at: float) -> None:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(f"go {at}\n")
            process.stdin.flush()

    def reports(self) -> list[Figures]:
        reports = [json.loads(self._line(process)) for process in self.processes]
        for process in self.processes:
            process.wait(timeout=60)
        return reports

    def _line(self, process: subprocess.Popen[str]) -> str:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"a tab stopped (exit code {process.wait()}): see its error above")
        return line

    def __enter__(self) -> Tabs:
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:  # a run that failed half-way leaves no tab tapping
            if process.poll() is None:
                process.kill()
                process.wait()


def restarter(
    server: PostgresServer | None, command: str | None, outage: float, log: Path
) -> Callable[[], str]:
    """What restarts the server mid-run; returns how it was done. A given command's output goes to `log`,
    a file: a server it starts may keep the descriptors it was given (`pg_ctl restart` without `-l` does),
    and on this benchmark's stdout its lines would spoil the JSON, on a pipe hold the reader forever."""

    def private() -> str:
        assert server is not None
        server.stop()
        time.sleep(outage)  # the outage itself: the server is down this long
        server.start()
        return f"pg_ctl stop -m fast, down {outage:g} s, pg_ctl start"

    def given() -> str:
        assert command is not None
        with log.open("w") as output:
            done = subprocess.run(command, shell=True, stdin=subprocess.DEVNULL, stdout=output, stderr=output)
        if done.returncode:
            raise SystemExit(f"--restart-command failed ({done.returncode}): {log.read_text()[-2000:]}")
        return command

    return private if server is not None else given


def run(args: argparse.Namespace, url: str, restart: Callable[[], str] | None, data: Path) -> Figures:
    load = os.getloadavg()[0]
    therapists = staff_the_practice(data, url, args.tabs)
    rate = 0.0 if args.stress else args.rate
    specs = [
        {**who, "data": str(data), "url": url, "seed": n, "rate": rate, "seconds": args.seconds}
        for n, who in enumerate(therapists)
    ]
    with Tabs(specs) as tabs:
        tabs.ready()
        go = time.monotonic() + 0.2
        tabs.go(go)
        down = back = float("nan")  # no restart: no tap is "while down"
        how = None
        if restart is not None:
            time.sleep(max(0.0, go + args.restart_at - time.monotonic()))
            down = time.monotonic()
            how = restart()
            back = time.monotonic()
        reports = tabs.reports()
    timed = [took for report in reports for _, took in report["taps"]]
    outage = [took for report in reports for started, took in report["taps"] if down <= started <= back]
    up = [took for report in reports for started, took in report["taps"] if not down <= started <= back]
    drained = drain_time(reports, back) if how is not None else None
    return {
        "benchmark": "practice_server",
        "host": {"cpus": os.cpu_count(), "load_average_at_start": round(load, 2)},
        "server": server_version(url),
        "tabs": args.tabs,
        "seconds": args.seconds,
        "taps_per_second_per_tab": "stress (back to back)" if args.stress else args.rate,
        "restart": None
        if how is None
        else {"how": how, "at_s": round(down - go, 2), "server_down_s": round(back - down, 2)},
        "taps_acknowledged": sum(len(report["acknowledged"]) for report in reports),
        "per_tab": {report["name"]: len(report["acknowledged"]) for report in reports},
        "refused": sum(report["refused"] for report in reports),
        "tap_to_durable_ms": percentiles(timed, 1000),
        "tap_to_durable_while_down_ms": percentiles(outage, 1000) if how is not None else None,
        "tap_to_durable_while_up_ms": percentiles(up, 1000),
        "taps_on_the_server_when_acknowledged": sum(r["on_the_server_at_return"] for r in reports),
        "peak_waiting": peak_waiting(reports),
        "every_outbox_empty_s_after_the_server_was_back": drained,
        "problems_shown": sorted({problem for report in reports for problem in report["problems"]}),
        "left_at_end": {
            "waiting": sum(report["waiting_at_end"] for report in reports),
            "pending": sum(report["pending_at_end"] for report in reports),
            "sessions_not_ended": [r["session_end"] for r in reports if r["session_end"] != "ended"],
        },
        "on_the_server": on_the_server(url, reports),
    }


def peak_waiting(reports: list[Figures]) -> int:
    """The most entries waiting in all tabs' outboxes at one moment (each tab's changes, merged in time)."""
    now = [0] * len(reports)
    peak = 0
    changes = sorted((t, tab, n) for tab, report in enumerate(reports) for t, n in report["waiting"])
    for _, tab, waiting in changes:
        now[tab] = waiting
        peak = max(peak, sum(now))
    return peak


def drain_time(reports: list[Figures], back: float) -> float | None:
    """Seconds from the server's return until the last tab's outbox was empty (None: one never was)."""
    emptied = []
    for report in reports:
        before = [n for t, n in report["waiting"] if t <= back]
        after = [t for t, n in report["waiting"] if t > back and n == 0]
        if before and before[-1] == 0:
            emptied.append(back)
        elif after:
            emptied.append(after[0])
        else:
            return None
    return round(max(emptied) - back, 2)


def server_version(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return f"PostgreSQL {row[0] if row else '?'}"


def on_the_server(url: str, reports: list[Figures]) -> Figures:
    """Read back from the server itself: each acknowledged tap there once, in its tab's order, audited once
    as its therapist."""
    sessions = [report["session"] for report in reports]
    acknowledged = [event_id for report in reports for event_id in report["acknowledged"]]
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id, session_id FROM events WHERE session_id = ANY(%s) ORDER BY seq", (sessions,)
        ).fetchall()
        audited = conn.execute(
            "SELECT target_id, actor FROM audit_log "
            "WHERE target = 'events' AND action = 'create' AND target_id = ANY(%s)",
            (acknowledged,),
        ).fetchall()
    stored: dict[int, list[str]] = {session: [] for session in sessions}
    for event_id, session in rows:
        stored[session].append(event_id)
    lost = order_kept = 0
    for report in reports:
        wanted, there = report["acknowledged"], stored[report["session"]]
        lost += len(set(wanted) - set(there))
        acknowledged_here = set(wanted)
        order_kept += [event_id for event_id in there if event_id in acknowledged_here] == wanted
    signature = {event_id: report["signature"] for report in reports for event_id in report["acknowledged"]}
    audits = [(event_id, actor) for event_id, actor in audited]
    return {
        "events": len(rows),
        "lost": lost,
        "duplicated": len(rows) - len({event_id for event_id, _ in rows}),
        "not_acknowledged": len({event_id for event_id, _ in rows} - set(acknowledged)),
        "tabs_in_order": f"{order_kept} of {len(reports)}",
        "audited_once_as_their_therapist": sorted(audits) == sorted(signature.items()),
    }


def failed(result: Figures) -> bool:
    server = result["on_the_server"]
    return bool(
        server["lost"]
        or server["duplicated"]
        or server["tabs_in_order"] != f"{result['tabs']} of {result['tabs']}"
        or not server["audited_once_as_their_therapist"]
    )


@contextlib.contextmanager
def database(given: str | None) -> Iterator[tuple[str, PostgresServer | None]]:
    """The given URL, else a fresh database on a private server started for this run."""
    if given is not None:
        yield given, None
        return
    try:
        with private_postgres() as server:
            yield server.fresh_url(), server
    except PostgresUnavailable as exc:
        print(f"PostgreSQL unavailable: {exc}", file=sys.stderr)
        sys.exit(UNAVAILABLE)


def main() -> None:
    if sys.argv[1:2] == ["--tab"]:
        run_tab(json.loads(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", type=int, default=TABS, help=f"tabs tapping at once (default {TABS})")
    parser.add_argument("--seconds", type=float, default=SECONDS, help=f"of tapping (default {SECONDS:g})")
    parser.add_argument("--rate", type=float, default=RATE, help=f"taps a second per tab (default {RATE:g})")
    parser.add_argument("--stress", action="store_true", help="taps back to back, as fast as they go")
    parser.add_argument("--outage", type=float, default=OUTAGE_S, help="seconds the server stays down")
    parser.add_argument("--restart-at", type=float, help="seconds into the run (default 40%% of it)")
    parser.add_argument("--database", help="postgresql:// URL of an empty database on an existing server")
    parser.add_argument("--restart-command", help="a shell command restarting that server mid-run")
    parser.add_argument("--dir", type=Path, help="folder for the data folder (default: a temporary one)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # stop the server, the tabs
    if args.restart_at is None:
        args.restart_at = 0.4 * args.seconds
    with database(args.database) as (url, server), tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        can_restart = server is not None or args.restart_command is not None
        log = Path(tmp) / "restart.log"
        restart = restarter(server, args.restart_command, args.outage, log) if can_restart else None
        result = run(args, url, restart, Path(tmp) / "data")
    print(json.dumps(result, indent=2))
    if failed(result):
        sys.exit(1)


if __name__ == "__main__":
    main()
