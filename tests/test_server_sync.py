"""Offline-first on a server record (issue 16, item 2): the server is stopped mid-session, for real, and
every tap logged meanwhile reaches it once it is back: in order, exactly once, with its audit entry.

The server here is a private one (`support.postgres`), not the suite's shared one: these tests stop and
start it. Nothing is simulated: the taps go through `Record`, a killed run is a real process killed with
SIGKILL, and what reached the server is read back from it with psycopg.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from support.link import link_to
from support.pilot import SIZE, app_for, log_lines, on_screen, start_session, until, until_notified
from support.postgres import PostgresServer, postgres_for_tests
from support.practice import make_practice
from support.staffed import make_staffed
from textual.widgets import Static

from companion.app.screens.dialogs import Confirm
from companion.app.screens.session.screen import LiveSessionScreen
from companion.live.services import Services
from companion.live.session_controller import LiveSession
from companion.record import Count, EventDraft, Note, Record, StorageError, Trial
from companion.record.event_queries import event_row
from companion.record.outbox import FOLDER, outbox_prefix
from companion.record.postgres import WRITE_LOCK
from companion.record.session_queries import load_session

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """A server of this module's own: the tests stop and start it."""
    yield from postgres_for_tests()


@pytest.fixture
def url(server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh database on it, which every `Record.open` of the test reaches (as a practice sets it)."""
    fresh = server.fresh_url()
    monkeypatch.setenv("COMPANION_DATABASE_URL", fresh)
    yield fresh
    if not _answers(server):
        server.start()
    server.drop(fresh)


def _answers(server: PostgresServer) -> bool:
    try:
        psycopg.connect(server.admin_url, connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


def eventually(condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition.__qualname__}")
        time.sleep(0.05)


def on_server(url: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Read the server directly, not through the record under test."""
    with psycopg.connect(url) as conn:
        return list(conn.execute(sql, params).fetchall())


def session_ids_on_server(url: str, session_id: int) -> list[str]:
    return [
        str(row[0])
        for row in on_server(url, "SELECT id FROM events WHERE session_id = %s ORDER BY seq", (session_id,))
    ]


def new_session(record: Record) -> tuple[int, int]:
    client = record.caseload.add_client("Ava")
    goal = record.caseload.add_goal(client.id, "communication", "Requests")
    objective = record.caseload.add_objective(goal.id, "Requests an instrument")
    return record.sessions.start_session([client.id], "clinic").id, objective.id


def test_taps_while_the_server_is_away_wait_here_and_reach_it_in_order_exactly_once(
    server: PostgresServer, url: str, tmp_path: Path
) -> None:
    with Record.open(tmp_path, backup_every=None) as record:
        sync = record.events.sync
        assert sync is not None
        session_id, objective = new_session(record)
        logged = [record.events.log(session_id, EventDraft(Count("turns"))).id for _ in range(5)]
        assert sync.waiting == 0 and session_ids_on_server(url, session_id) == logged  # there at once

        server.stop()  # the cable is pulled
        for k in range(30):
            draft = EventDraft(Trial(k % 2 == 0, "independent"), objective_id=objective)
            logged.append(record.events.log(session_id, draft).id)  # each returns: durable here
        undo = record.events.undo(logged[-1])  # an undo of a tap the server has not seen yet
        logged.append(undo.id)
        logged.append(record.events.log(session_id, EventDraft(Note("🎵 sang the hello song"))).id)
        assert sync.waiting == 32 and record.events.pending() == []
        assert sync.problem is not None and "cannot reach the practice's record" in sync.problem
        assert [e.id for e in record.events.waiting()] == logged[5:]  # what the app shows as waiting
        with pytest.raises(StorageError, match="cannot reach"):  # ending the session must wait for it
            record.events.send_waiting()
        assert sync.waiting == 32
        outbox = next((tmp_path / FOLDER).glob("*.db"))
        assert stat.S_IMODE(outbox.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / FOLDER).stat().st_mode) == 0o700

        server.start()  # back
        eventually(lambda: sync.waiting == 0)
        assert sync.problem is None
        assert session_ids_on_server(url, session_id) == logged  # in order, none twice
        (undone,) = on_server(url, "SELECT undoes FROM events WHERE id = %s", (undo.id,))
        assert undone == (logged[-3],)
        assert load_session(record.database, session_id).ended_at is None  # the main connection is back
        record.sessions.end_session(session_id)
    assert not list((tmp_path / FOLDER).glob("*.db"))  # an empty outbox is removed at close


def test_a_run_killed_with_taps_waiting_leaves_them_for_the_next_open_which_sends_them(
    server: PostgresServer, url: str, tmp_path: Path
) -> None:
    with Record.open(tmp_path, backup_every=None) as record:
        session_id, _ = new_session(record)
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path), str(session_id)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert writer.stdin is not None and writer.stdout is not None
    try:
        first = writer.stdout.readline().split()  # "open ID": its session has begun (one tap logged)
        assert first[0] == "open"
        server.stop()
        writer.stdin.write("go\n")
        writer.stdin.flush()
        acknowledged = [first[1], *(writer.stdout.readline().strip() for _ in range(25))]  # after `log`
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    assert (
        all(acknowledged) and session_ids_on_server_after_start(server, url, session_id) == acknowledged[:1]
    )

    services = Services.open(tmp_path, backup_every=None)  # adopts the killed run's outbox, and says so
    try:
        outbox, sync = services.record.events.outbox, services.record.events.sync
        assert outbox is not None and sync is not None and outbox.adopted >= 25
        assert any(f"{outbox.adopted} entries an earlier run left" in w for w in services.warnings)
        eventually(lambda: sync.waiting == 0)
    finally:
        services.close()
    stored = session_ids_on_server(url, session_id)
    assert stored[: len(acknowledged)] == acknowledged  # every acknowledged tap, in order
    assert len(set(stored)) == len(stored)  # (taps the kill cut short of their acknowledgement may follow)
    assert not list((tmp_path / FOLDER).glob("*.db"))


def session_ids_on_server_after_start(server: PostgresServer, url: str, session_id: int) -> list[str]:
    server.start()
    return session_ids_on_server(url, session_id)


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from companion.record import Count, EventDraft, Record

    record = Record.open(Path(sys.argv[1]), backup_every=None)
    session_id = int(sys.argv[2])
    print("open", record.events.log(session_id, EventDraft(Count("turns"))).id, flush=True)
    sys.stdin.readline()
    while True:
        print(record.events.log(session_id, EventDraft(Count("turns"))).id, flush=True)
    """
)


def test_rows_the_server_already_has_are_not_stored_or_audited_twice(
    server: PostgresServer, url: str, tmp_path: Path
) -> None:
    """What a crash between the server's commit and the outbox's removal leaves: rows sent, still in an
    outbox nobody holds. A process keeps rows the server has in an outbox and is killed; the next open
    adopts and sends them, and the server keeps one of each, with one audit entry."""
    staffed = make_staffed(tmp_path)
    with staffed.open_as("Tom") as record:
        session_id = record.sessions.start_session([staffed.ava], "clinic").id
        events = [record.events.log(session_id, EventDraft(Count("turns"))) for _ in range(4)]
        where = record.database.where
    rows = json.dumps([list(event_row(e)) for e in events])
    keeper = subprocess.Popen(
        [sys.executable, "-c", _KEEPER, str(tmp_path), where, rows, str(staffed.staff["Tom"])],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert keeper.stdout is not None
    try:
        stale = Path(keeper.stdout.readline().strip())  # printed once the rows are committed
    finally:
        keeper.send_signal(signal.SIGKILL)
        keeper.wait()
    assert stale.exists()
    with staffed.open_as(None) as record:
        sync = record.events.sync
        assert sync is not None and not stale.exists()  # adopted at open
        eventually(lambda: sync.waiting == 0)
    assert session_ids_on_server(url, session_id) == [e.id for e in events]
    audited = on_server(
        url,
        "SELECT target_id, actor FROM audit_log WHERE target = 'events' AND action = 'create' ORDER BY id",
    )
    assert audited == [(e.id, "Tom, MT-BC") for e in events]


_KEEPER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from companion.record.outbox import Author, Outbox

    outbox = Outbox.open(Path(sys.argv[1]), sys.argv[2])
    outbox.append([tuple(row) for row in json.loads(sys.argv[3])], Author(int(sys.argv[4]), "Tom, MT-BC"))
    print(outbox.path, flush=True)
    time.sleep(600)
    """
)


def test_taps_logged_offline_are_audited_once_as_their_therapist_even_if_signed_out_before_sending(
    server: PostgresServer, url: str, tmp_path: Path
) -> None:
    staffed = make_staffed(tmp_path)
    with staffed.open_as("Tom") as record:
        session_id = record.sessions.start_session([staffed.ava], "clinic").id
        record.events.log(session_id, EventDraft(Count("turns")))  # the session is cleared for Tom
        server.stop()
        offline = [record.events.log(session_id, EventDraft(Count("turns"))).id for _ in range(3)]
        record.staff.sign_out()
        server.start()
        sync = record.events.sync
        assert sync is not None
        eventually(lambda: sync.waiting == 0)
    rows = on_server(
        url,
        "SELECT actor, count(*) FROM audit_log "
        "WHERE target = 'events' AND target_id = ANY(%s) GROUP BY actor",
        (offline,),
    )
    assert rows == [("Tom, MT-BC", 3)]


async def test_the_session_screen_counts_entries_waiting_for_the_server_and_says_when_all_arrived(
    server: PostgresServer, url: str, tmp_path: Path
) -> None:
    practice = make_practice(tmp_path / "data", history=False)
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_session(pilot)
        opening = len(log_lines(app))
        bar = screen.query_one("#pending-bar", Static)
        server.stop()  # the network goes away mid-session
        for key in ["plus", "minus", "plus"]:
            await pilot.press(key)
        await until(pilot, lambda: len(log_lines(app)) == opening + 3)  # shown: each is saved here
        assert all(line.entry.saved for line in log_lines(app))
        await until(pilot, lambda: "⇅ 3 entries saved on this computer" in str(bar.render()))
        assert "cannot reach the practice's record" in str(bar.render()) and bar.has_class("-waiting")

        await pilot.press("ctrl+q")  # quitting now would leave them here: it asks first
        confirm = await on_screen(pilot, Confirm)
        assert "3 entries are saved on this computer" in confirm.message
        await pilot.press("escape")  # wait
        await on_screen(pilot, LiveSessionScreen)

        server.start()
        await until(pilot, lambda: not bar.has_class("-visible"), timeout=30)
        await until_notified(pilot, app, "Every entry has reached the practice's server.")
        session_id = screen.live.session.id
    assert len(session_ids_on_server(url, session_id)) == opening + 3


def test_a_locked_server_leaves_taps_waiting_here_until_the_lock_is_released(
    server: PostgresServer, url: str, tmp_path: Path
) -> None:
    """Another program holds the record's writers' lock (a long maintenance task, a stuck client): taps are
    confirmed from the outbox at once, the reason is said, and they go once the lock is released."""
    with Record.open(tmp_path, busy_timeout=0.2, backup_every=None) as record:
        sync = record.events.sync
        assert sync is not None
        session_id, _ = new_session(record)
        first = record.events.log(session_id, EventDraft(Count("turns"))).id
        with psycopg.connect(url) as holder:
            holder.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            held = [record.events.log(session_id, EventDraft(Count("turns"))).id for _ in range(3)]
            assert record.events.pending() == []
            eventually(lambda: sync.problem is not None and "locked by another program" in sync.problem)
            assert sync.waiting == 3
        eventually(lambda: sync.waiting == 0)  # the holder committed: the lock is free
    assert session_ids_on_server(url, session_id) == [first, *held]


def test_a_pulled_cable_never_holds_a_tap_and_every_tap_arrives_once_it_is_mended(
    server: PostgresServer, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing answers and nothing is refused (`support.link`): the sender's call hangs, and the taps go
    on regardless, each durable here; when the link is mended the hung send completes and the rest follow."""
    with link_to(server.port) as link:
        monkeypatch.setenv("COMPANION_DATABASE_URL", url.replace(f":{server.port}/", f":{link.port}/"))
        with Record.open(tmp_path, backup_every=None) as record:
            sync = record.events.sync
            assert sync is not None
            session_id, _ = new_session(record)
            logged = [record.events.log(session_id, EventDraft(Count("turns"))).id]
            link.cut()
            tapping = threading.Thread(
                target=lambda: logged.extend(
                    record.events.log(session_id, EventDraft(Count("turns"))).id for _ in range(20)
                )
            )
            tapping.start()
            tapping.join(timeout=60)  # a safety net only: with a tap waiting on the wire this would hang
            assert not tapping.is_alive() and len(logged) == 21
            assert sync.waiting == 20 and session_ids_on_server(url, session_id) == logged[:1]
            link.mend()
            eventually(lambda: sync.waiting == 0)
    assert session_ids_on_server(url, session_id) == logged


def test_quitting_while_the_cable_is_pulled_keeps_the_taps_for_the_next_open_which_sends_them_once(
    server: PostgresServer, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing does not wait on a dead wire: the taps stay in the outbox. When the link is mended the old
    run's hung send completes too, while the next open sends the same rows: the server keeps one of each."""
    with link_to(server.port) as link:
        monkeypatch.setenv("COMPANION_DATABASE_URL", url.replace(f":{server.port}/", f":{link.port}/"))
        record = Record.open(tmp_path, backup_every=None)
        session_id, _ = new_session(record)
        logged = [record.events.log(session_id, EventDraft(Count("turns"))).id]
        link.cut()
        logged += [record.events.log(session_id, EventDraft(Count("turns"))).id for _ in range(10)]
        closing = threading.Thread(target=record.close)
        closing.start()
        closing.join(timeout=60)  # a safety net only: a close waiting on the wire would hang here
        assert not closing.is_alive()
        assert len(list((tmp_path / FOLDER).glob("*.db"))) == 1  # kept for the next open
        link.mend()
        with Record.open(tmp_path, backup_every=None) as reopened:
            sync = reopened.events.sync
            assert sync is not None
            eventually(lambda: sync.waiting == 0)
    assert session_ids_on_server(url, session_id) == logged


def test_a_damaged_outbox_left_by_an_earlier_run_is_named_and_kept_and_the_session_goes_on(
    server: PostgresServer, url: str, tmp_path: Path
) -> None:
    with Record.open(tmp_path, backup_every=None) as record:
        session_id, _ = new_session(record)
        prefix = outbox_prefix(record.database.where)
    damaged = tmp_path / FOLDER / f"{prefix}left-by-a-crash.db"
    damaged.write_bytes(b"not an outbox at all" * 100)
    services = Services.open(tmp_path, backup_every=None)
    try:
        assert any(
            str(damaged) in warning and "could not be read" in warning for warning in services.warnings
        )
        tap = services.record.events.log(session_id, EventDraft(Count("turns")))
    finally:
        services.close()
    assert damaged.exists() and session_ids_on_server(url, session_id) == [tap.id]


def test_a_live_session_whose_server_goes_before_its_first_tap_taps_and_undoes_on(
    server: PostgresServer, url: str, tmp_path: Path
) -> None:
    """The session is prepared as it starts (while the server is there): its first tap, and an undo of a
    tap the server already has, go on with the server away, and reach it once it is back."""
    with Record.open(tmp_path, backup_every=None) as record:
        client = record.caseload.add_client("Ava")
        goal = record.caseload.add_goal(client.id, "communication", "Requests")
        record.caseload.add_objective(goal.id, "Requests an instrument")
        earlier = LiveSession.start(record, [client.id])
        on_server_already = earlier.commit(EventDraft(Count("turns"))).entries[0].event
        live = LiveSession.start(record, [client.id])
        server.stop()
        first = live.commit(EventDraft(Trial(True, "independent"), objective_id=live.objective.id))
        assert first.problem is None and [e.saved for e in first.entries] == [True]
        undone = earlier.undo_last()  # the tap on the server: its undo waits here too
        assert undone.problem is None and [(e.id, e.undone, e.saved) for e in undone.entries] == [
            (on_server_already.id, True, True)
        ]
        sync = record.events.sync
        assert sync is not None and sync.waiting == 2
        server.start()
        eventually(lambda: sync.waiting == 0)
    assert session_ids_on_server(url, live.session.id) == [first.entries[0].id]
    (tombstone,) = on_server(url, "SELECT undoes FROM events WHERE kind = 'tombstone'")
    assert tombstone == (on_server_already.id,)
