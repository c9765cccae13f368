"""The fault-injection suite (issue 14): the session record tried as a crash, a second program, a full or
read-only disk, a damaged file, a careless restore and a hostile user would try it: real processes, real
SIGKILLs, real files, and a small real disk (tmpfs) when the tests run as root. The campaign lives in
`benchmarks/faults.py`, which runs these same functions and prints their figures (docs/benchmarks.md,
"Storage"); here every figure is asserted and a failure prints them all. The campaigns about the record
rather than SQLite's files (`kill -9`, concurrent writers, a crashed lock holder) run on PostgreSQL too.

Already kept by other tests, so not repeated here:
- kill -9 after 1, 37 and 150 taps, two processes writing one session, a lock held in the same process,
  SQLite's page limit as a full disk, a shopping list and a damaged page as the database, read-only folders
  and files at open (`tests/test_record_durability.py`);
- a 0-byte database never started over, 8 processes opening a new folder at once, restore refused while
  an idle session holds the record, a record opened read-only recovering once writable, escape sequences
  in `clients list`, formula cells in CSV (`tests/test_record_hardening.py`);
- kill -9 with taps pending in a rescue file (`tests/test_record_rescue.py`);
- randomly damaged plans, wrong values, unknown keys, a plan nested 2,000 deep, a plan over 256 KB
  (`tests/test_plans_loader.py`); markup typed into every field on every screen (`tests/test_app_markup.py`).
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.ordinary_user import as_an_ordinary_user
from support.plan_files import VALID_PLAN, to_toml
from support.raw_record import database_url, on_postgres

from companion.cli import main
from companion.cli.record_access import safe
from companion.record import Record
from interventions import read_plan
from interventions.loader import MAX_PLAN_BYTES

sys.path.append(str(Path(__file__).resolve().parents[1] / "benchmarks"))  # last: its modules shadow nothing
from faults import (
    DAMAGE,
    KILLS,
    Figures,
    can_mount,
    concurrent_writers,
    damaged_record,
    first_open_on_a_nearly_full_disk,
    full_disk,
    kill_campaign,
    locked_by_a_program_that_crashes,
    locked_exclusively_when_opening,
    locked_on_the_server_by_a_program_that_crashes,
    power_loss,
    read_only_disk,
    read_only_files_mid_session,
    restore_during_session,
    small_disk,
    synced_before_acknowledged,
)


def shown(figures: Figures) -> str:
    """All the figures, for the assertion message: a failure says what else happened."""
    return json.dumps(figures, indent=1)


def stored_soundly(figures: Figures) -> bool:
    """The file passed SQLite's integrity check; on a server, no tap (row or audit entry) is there twice."""
    return figures["stored_twice"] == 0 if on_postgres() else figures["integrity"] == "ok"


def test_kill_minus_nine_at_a_hundred_random_moments_loses_no_acknowledged_tap(tmp_path: Path) -> None:
    """On PostgreSQL, "stored" means on the server once the record was reopened and closed (which pushes
    whatever a killed writer left in its data folder), asked of the server directly."""
    figures = kill_campaign(tmp_path / "data", kills=KILLS, database=database_url())
    assert figures["kills_tried"] >= 100 and figures["kills_landed"] == figures["kills_tried"], shown(figures)
    assert figures["lost"] == 0 and figures["order_kept"] and stored_soundly(figures), shown(figures)
    assert figures["writer_failures"] == [], shown(figures)
    # most kills land in the middle of the taps (the others while the writer opens the record)
    assert figures["killed_before_the_first_tap"] < figures["kills_tried"] / 2, shown(figures)
    assert figures["taps_acknowledged"] > figures["kills_tried"], shown(figures)


def test_eight_writers_at_once_some_killed_lose_nothing(tmp_path: Path) -> None:
    figures = concurrent_writers(tmp_path / "data", writers=8, killed=3, database=database_url())
    assert figures["killed"] == 3 and figures["finished"] == 5, shown(figures)
    assert figures["lost"] == 0 and figures["order_kept"] and stored_soundly(figures), shown(figures)
    assert figures["writer_failures"] == [], shown(figures)


@pytest.mark.sqlite_only
def test_a_lock_held_by_a_program_that_then_crashes_loses_nothing(tmp_path: Path) -> None:
    figures = locked_by_a_program_that_crashes(tmp_path / "data")
    assert figures["refused_taps"] == 3 and figures["error"] == ["DatabaseLocked"], shown(figures)
    assert "locked by another program" in figures["message"], shown(figures)
    assert str(tmp_path / "data" / "companion.db") in figures["message"], shown(figures)
    assert figures["taps_shown_while_locked"] == 4, shown(figures)  # the refused ones as pending
    assert figures["kept_in_rescue_file"] == 3 and figures["rescue_file_removed"], shown(figures)
    assert figures["written_once_unlocked"] == 3 and figures["taps_acknowledged"] == 5, shown(figures)
    assert figures["lost"] == 0 and not figures["crashed_programs_write_kept"], shown(figures)


@pytest.mark.postgresql_only
def test_the_writers_lock_held_on_the_server_by_a_program_that_then_crashes_loses_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    """PostgreSQL's side of the test above, with two more writer processes queued on the lock: the server
    must roll back the crashed holder's write and release its lock, every waiting writer then carries on and
    finishes, and every tap acknowledged to the therapist or a writer is on the server, once."""
    figures = locked_on_the_server_by_a_program_that_crashes(tmp_path / "data", postgres_url, writers=2)
    assert figures["writers_seen_waiting_for_the_lock"] >= 2, shown(figures)  # the lock did hold them up
    assert figures["seconds_until_the_server_released_the_lock"] < 10, shown(figures)
    assert figures["writers_finished"] == 2 and figures["writer_failures"] == [], shown(figures)
    # each writer was held up with taps to write, and they reached the server once its holder was gone
    assert all(count >= 1 for count in figures["writers_taps_stored_after_the_crash"]), shown(figures)
    assert figures["lost"] == 0 and figures["lost_by_each_writer"] == [0, 0], shown(figures)
    assert figures["order_kept"] and figures["stored_twice"] == 0, shown(figures)
    assert not figures["crashed_programs_write_kept"], shown(figures)
    # the therapist's own taps: one before, three while held, one after, each acknowledged in the end
    assert figures["taps_acknowledged"] == 5 + sum(figures["writers_acknowledged"]), shown(figures)
    taps_wait_in_the_outbox_while_a_writer_holds_the_servers_lock(figures)


def taps_wait_in_the_outbox_while_a_writer_holds_the_servers_lock(figures: Figures) -> None:
    """A server record acknowledges a tap from its outbox (`companion.record.outbox`): while the lock is
    held nothing is refused or kept in a rescue file; the three taps wait for the server, the sender says
    the server is locked, and they reach it once the holder is gone (counted in `lost` above)."""
    assert figures["refused_taps"] == 0 and figures["kept_in_rescue_file"] == 0, shown(figures)
    assert figures["taps_shown_while_locked"] == 4, shown(figures)
    assert figures["waiting_for_the_server"] == 3, shown(figures)
    assert "locked by another program" in figures["server_problem"], shown(figures)


@pytest.mark.sqlite_only
def test_a_record_locked_exclusively_when_a_session_starts_is_a_clear_error(tmp_path: Path) -> None:
    figures = locked_exclusively_when_opening(tmp_path / "data")
    assert figures["error"] == "DatabaseLocked" and "locked by another program" in figures["message"]
    assert not figures["crashed_programs_write_kept"] and figures["lost"] == 0, shown(figures)


@pytest.fixture
def disk() -> Iterator[Path]:
    """A small real disk (tmpfs) mounted for the test."""
    why_not = can_mount()
    if why_not:
        pytest.skip(
            f"{why_not} (the full disk is still tried with SQLite's page limit, in test_record_durability)"
        )
    with small_disk() as mounted:
        yield mounted


@pytest.mark.sqlite_only
def test_a_full_disk_refuses_taps_clearly_keeps_them_and_writes_them_once_space_is_freed(disk: Path) -> None:
    figures = full_disk(disk)
    assert figures["refused_taps"] == 3 and figures["error"] == ["DiskFull"], shown(figures)
    assert "is full: free some space" in figures["message"], shown(figures)
    assert figures["kept_in_rescue_file_in"] == "the cache folder", shown(figures)  # the full disk took none
    assert figures["backup_on_the_full_disk"].startswith("DiskFull: "), shown(figures)
    assert figures["new_record_on_the_full_disk"].startswith("DiskFull: "), shown(figures)
    assert figures["half_written_files_left"] == [], shown(figures)
    assert figures["written_once_space_freed"] == 3 and figures["lost"] == 0, shown(figures)


@pytest.mark.sqlite_only
def test_a_new_record_on_a_nearly_full_disk_is_refused_as_a_full_disk_wherever_it_runs_out(
    disk: Path,
) -> None:
    """Issue 14, item 6: the first migration on a nearly full disk said "cannot rollback - no transaction is
    active" (at 38 of these 49 levels before the fix), and a few levels gave "disk I/O error"."""
    figures = first_open_on_a_nearly_full_disk(disk)
    assert figures["not_disk_full"] == {}, shown(figures)
    assert figures["outcomes"].get("DiskFull", 0) > 0, shown(figures)  # the sweep did reach a full disk


@pytest.mark.sqlite_only
def test_a_read_only_disk_is_named_as_such_and_loses_nothing(disk: Path) -> None:
    figures = read_only_disk(disk)
    assert figures["error"] == "ReadOnlyLocation" and "mounted read-only" in figures["message"], shown(
        figures
    )
    assert "chmod u+w" not in figures["message"] and figures["lost"] == 0, shown(figures)


@pytest.fixture(scope="module")
def read_only_mid_session() -> Figures:
    """The read-only probe, run once as an ordinary user (root ignores file modes) for the tests below."""
    return dict(json.loads(as_an_ordinary_user(read_only_files_mid_session)))


def test_files_turned_read_only_during_a_session_lose_nothing(read_only_mid_session: Figures) -> None:
    figures = read_only_mid_session
    assert figures["refused_taps_while_open"] == [], shown(figures)  # its open files stay writable
    refused = figures["tap_after_reopening_read_only"]
    assert refused.startswith("ReadOnlyLocation: ") and "chmod u+w" in refused, shown(figures)
    assert figures["refused_taps_stored_in_the_end"] and figures["lost"] == 0, shown(figures)


def test_a_backup_into_a_read_only_folder_is_a_clear_error(read_only_mid_session: Figures) -> None:
    """Found by this suite: the backups folder was created outside the backup's `try`, so a read-only
    data folder raised a raw PermissionError (a traceback from Record.open's automatic backup)."""
    assert read_only_mid_session["backup_while_read_only"].startswith("ReadOnlyLocation: ")


def test_a_record_reopened_read_only_with_its_wal_recovers_once_writable(
    read_only_mid_session: Figures,
) -> None:
    """Found by this suite: the reconnect opened its fresh connection before closing the read-only one,
    and with a WAL left behind SQLite kept the fresh one read-only too; the old one is now closed first."""
    assert read_only_mid_session["flush_once_writable"] == "done"


@pytest.mark.sqlite_only
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_record_is_reported_with_the_backup_to_restore_and_nothing_written_over(
    tmp_path: Path, damage: str
) -> None:
    figures = damaged_record(tmp_path / "data", damage)
    assert figures["error"] == "CorruptDatabase" and figures["names_the_backups"], shown(figures)
    assert figures["left_untouched"] and figures["damaged_file_kept_aside"], shown(figures)
    assert figures["restored_taps_of_the_backup"] == figures["taps_in_the_backup"], shown(figures)


@pytest.mark.sqlite_only
def test_restoring_while_a_session_writes_is_refused_each_time_and_loses_no_tap(tmp_path: Path) -> None:
    figures = restore_during_session(tmp_path / "data")
    assert figures["refused"] == figures["restores_tried_while_writing"], shown(figures)
    assert "Nothing was changed" in figures["message"] and figures["changed_while_refused"] == [], shown(
        figures
    )
    assert figures["taps_acknowledged"] > 0 and figures["lost"] == 0, shown(figures)
    assert figures["restored_session_is_the_backups"], shown(figures)


def traced(folder: Path, synchronous: str = "FULL") -> Figures:
    figures = power_loss(folder, synchronous=synchronous)
    if "skipped" in figures:
        pytest.skip(f"{figures['skipped']}: the order of fsyncs and acknowledgements is read from strace")
    return figures


@pytest.mark.sqlite_only
def test_an_acknowledged_tap_has_been_fsynced_and_every_new_name_synced_into_its_folder(
    tmp_path: Path,
) -> None:
    """What a power cut needs, as far as it can be seen here (the disk's own cache cannot be cut off):
    SQLite's settings, and in the writer's system calls no acknowledgement before the fsync of the WAL it
    wrote, and every new name (the data folder, the database linked into place, its WAL, a rescue folder
    and file) synced into its folder before a tap depends on it."""
    figures = traced(tmp_path)
    assert figures["synchronous"] == "FULL" and figures["journal_mode"] == "wal", shown(figures)
    assert figures["acknowledgements_traced"] == 20, shown(figures)
    assert figures["acknowledged_before_the_wal_was_fsynced"] == 0, shown(figures)
    assert figures["folders_not_fsynced"] == {}, shown(figures)
    # Without the folder fsyncs the record makes itself (SQLite's own are fdatasync), the check sees the
    # new data folder and the rescue file that a power cut could take away.
    trace = (tmp_path / "trace").read_text()
    without = "\n".join(line for line in trace.splitlines() if not re.search(r"\bfsync\(\d+</[^>]*>\)", line))
    missed = synced_before_acknowledged(without, tmp_path)["folders_not_fsynced"]
    assert f"mkdir {tmp_path / 'data'}" in missed["an acknowledged tap"], missed
    assert any(name.startswith(f"rename {tmp_path / 'data' / 'rescue'}") for name in missed["a rescued tap"])


@pytest.mark.sqlite_only
def test_the_power_loss_check_sees_acknowledgements_sent_before_their_fsync(tmp_path: Path) -> None:
    """The check is not vacuous: with `synchronous=NORMAL` SQLite does not fsync the WAL at each commit, and
    each acknowledgement the check finds before its fsync is a tap a power cut could take."""
    figures = traced(tmp_path, synchronous="NORMAL")
    assert figures["synchronous"] == "NORMAL", shown(figures)
    assert figures["acknowledged_before_the_wal_was_fsynced"] == figures["acknowledgements_traced"] == 20


# -- hostile names and plan files -------------------------------------------------------------------------
HOSTILE = [
    "Sam [/]", "[@click=app.quit]", "[b]Bo[/b] [red]", "\\[y]", "\x1b[2J\x1b[H", "\x1b]0;owned\x07",
    "\x9b31m", "\r", "\t", "\n", "\x7f", "\x00", "\u202eevil", "\u200b", "e\u0301",
    "\U0001f469\u200d\U0001f469\u200d\U0001f467", "\U0001d518\U0001d52b", '=HYPERLINK("x")', "+1", "-2",
    "@SUM(A1)", "<script>alert(1)</script>", "'; DROP TABLE clients; --", "%s%n{0}", "$(reboot)", '"', "\\",
]  # fmt: skip
"""Markup, terminal escapes, control characters, bidirectional and zero-width marks, emoji, formulas,
injections: what a careless paste or a hostile user puts in a name."""
NAMES = st.one_of(
    st.lists(st.sampled_from(HOSTILE) | st.text(max_size=12), min_size=1, max_size=6).map("".join),
    st.tuples(st.sampled_from(HOSTILE), st.integers(100, 3000)).map(
        lambda bit_times: bit_times[0] * bit_times[1]
    ),
)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=NAMES)
def test_hostile_names_are_stored_as_typed_and_never_reach_the_terminal_raw(
    tmp_path: Path, name: str
) -> None:
    data = tmp_path / uuid.uuid4().hex
    with Record.open(data, backup_every=None) as record:
        if not name.strip():
            with pytest.raises(ValueError, match="needs a display name"):
                record.caseload.add_client(name)
            return
        if "\x00" in name and on_postgres():  # its text cannot hold NUL: refused, and nothing stored
            before = len(record.caseload.clients())
            with pytest.raises(ValueError, match="cannot store a NUL character"):
                record.caseload.add_client(name)
            assert len(record.caseload.clients()) == before
            return
        client = record.caseload.add_client(name, pseudonym=name, population=name, preferred_music=name)
    with Record.open(data, backup_every=None) as record:
        stored = record.caseload.client(client.id)
    assert (stored.display_name, stored.pseudonym, stored.population) == (name.strip(), name, name)
    for command in (["clients", "list"], ["clients", "show", str(client.id)]):
        result = CliRunner().invoke(main, ["--data-dir", str(data), *command])
        assert result.exit_code == 0 and result.exception is None, result.output
        assert not CONTROL.search(result.output) and safe(name.strip()) in result.output


PLAN = tomllib.loads(VALID_PLAN)
KEYS = ["title", "steps", "domains", "tempo", "data", "not_a_field"]
"""Where the hostile value goes: text, lists, a table, an array of tables, and a key plans do not have."""


def toml_text(value: str) -> str:
    """A TOML basic string holding `value` exactly (TOML wants DEL escaped; JSON leaves it raw)."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


@st.composite
def hostile_plans(draw: st.DrawFn) -> tuple[str, str, str, str | None]:
    """A plan file made hostile one way: (how, the key it is at, the file's text, the title typed if any)."""
    how = draw(st.sampled_from(["arrays", "inline tables", "table header", "dotted key", "huge", "text"]))
    key = "title" if how == "text" else draw(st.sampled_from(KEYS))
    rest = to_toml({k: v for k, v in PLAN.items() if k != key})
    depth = draw(st.integers(1, 3000))
    if how == "arrays":
        return how, key, f"{key} = {'[' * depth}{']' * depth}\n{rest}", None
    if how == "inline tables":
        return how, key, f"{key} = {'{a = ' * depth}1{'}' * depth}\n{rest}", None
    if how == "table header":
        return how, key, f"{rest}\n[{key}{'.a' * depth}]\nb = 1\n", None
    if how == "dotted key":
        return how, key, f"{key}{'.a' * depth} = 1\n{rest}", None
    if how == "huge":
        size = draw(st.integers(MAX_PLAN_BYTES - len(rest) - 2000, MAX_PLAN_BYTES + 2000))
        return how, key, f"{key} = {toml_text('x' * size)}\n{rest}", None
    typed = draw(NAMES)
    return how, key, f"{key} = {toml_text(typed)}\n{rest}", typed


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(plan=hostile_plans())
def test_a_hostile_plan_file_is_a_plan_error_naming_file_and_field_never_a_traceback(
    tmp_path: Path, plan: tuple[str, str, str, str | None]
) -> None:
    how, key, text, typed = plan
    path = tmp_path / "hostile.toml"
    path.write_text(text, encoding="utf-8")
    entry, errors = read_plan(path)
    if entry is not None:  # hostile text where any text will do, a huge value that fits, an empty list
        assert errors == [] and (typed is None or entry.plan.title.strip() == typed.strip()), (how, errors)
    else:
        assert errors and all(error.path == path and str(error).startswith(str(path)) for error in errors)
        explained = [
            error
            for error in errors
            if (error.field or "").startswith(key)
            or any(cause in error.message for cause in ("nested too deeply", "too big"))
        ]
        assert explained, [str(error) for error in errors]
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "data"), "plans", "validate", str(path)])
    assert isinstance(result.exception, SystemExit | None) and "Traceback" not in result.output, result.output
    assert result.exit_code == (0 if entry is not None else 1), result.output
    assert entry is not None or str(path) in result.output, result.output
