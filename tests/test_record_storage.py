"""The record on a real SQLite file: privacy, WAL durability settings, CRUD, events, undo, migrations."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.raw_record import fingerprint, raw_connection

from companion.paths import ENV_VAR, data_dir
from companion.record import (
    Count,
    EventDraft,
    Intervention,
    MasteryCriterion,
    Note,
    Rating,
    Record,
    SchemaTooNew,
    Tempo,
    Tombstone,
    Trial,
    UnknownRecord,
)
from companion.record.migrations import LATEST_VERSION, migrate
from companion.record.model import DOMAINS


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_dir_order_override_then_env_then_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "from-env"))
    assert data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert data_dir() == tmp_path / "from-env"
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "companion"
    for created in ("explicit", "from-env", "xdg/companion"):
        assert mode(tmp_path / created) == 0o700


@pytest.mark.sqlite_only
def test_files_are_private_and_wal_is_full_sync(record: Record) -> None:
    client = record.caseload.add_client("Ava")
    session = record.sessions.start_session([client.id])
    record.events.log(session.id, EventDraft(Count("initiation")))
    assert mode(record.data_dir) == 0o700
    for name in ("companion.db", "companion.db-wal", "companion.db-shm"):
        assert mode(record.data_dir / name) == 0o600, name
    conn = record.database.connection
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    backup = record.backups.backup_now()
    assert mode(backup) == 0o600 and mode(backup.parent) == 0o700


def test_clients_goals_objectives_round_trip(record: Record) -> None:
    client = record.caseload.add_client(
        "Marcus",
        birth_year=2017,
        pseudonym="M.R.",
        population="autism",
        preferred_music="Raffi, Daniel Tiger songs",
        preferred_songs=["/songs/baby-shark.mid"],
    )
    goal = record.caseload.add_goal(client.id, "Communication", "Increase functional requests")
    objective = record.caseload.add_objective(
        goal.id, "Requests an instrument with a 2-word phrase", MasteryCriterion("percent_independent", 80, 3)
    )
    assert (
        record.caseload.find_client("marcus")
        == record.caseload.client(client.id)
        == record.caseload.find_client(str(client.id))
    )
    assert record.caseload.client(client.id).preferred_songs == ("/songs/baby-shark.mid",)
    assert record.caseload.goals(client.id)[0].domain == "communication"
    assert record.caseload.objectives(client_id=client.id) == [objective]
    assert objective.client_id == client.id
    assert objective.criterion.describe() == (
        "percent independent >= 80 over 3 consecutive sessions, at least 10 trials each"
    )
    updated = record.caseload.update_client(client.id, preferred_music="Raffi")
    assert updated.preferred_music == "Raffi" and updated.birth_year == 2017
    record.caseload.update_objective(objective.id, archived=True)
    assert record.caseload.objectives(client_id=client.id) == []
    assert (
        record.caseload.update_goal(goal.id, description="Functional requests").description
        == "Functional requests"
    )
    record.caseload.update_goal(goal.id, archived=True)
    assert (
        record.caseload.goals(client.id) == []
        and len(record.caseload.goals(client.id, include_archived=True)) == 1
    )
    with pytest.raises(ValueError, match="cannot change id"):
        record.caseload.update_client(client.id, id=99)
    with pytest.raises(UnknownRecord):
        record.caseload.find_client("nobody")


def test_log_returns_committed_events_visible_to_another_connection(record: Record) -> None:
    client = record.caseload.add_client("Ava")
    objective = record.caseload.add_objective(
        record.caseload.add_goal(client.id, "gross motor", "reach").id, "reach the drum"
    )
    session = record.sessions.start_session([client.id], "clinic", plan_ids=["timp-drum-reach"])
    event = record.events.log(session.id, EventDraft(Trial(True, "independent"), objective_id=objective.id))
    with raw_connection(record.data_dir) as other:
        row = other.execute(
            "SELECT session_id, client_id, objective_id, kind, payload, offset_s FROM events WHERE id = ?",
            (event.id,),
        ).fetchone()
    assert row[:4] == (session.id, client.id, objective.id, "trial")
    assert json.loads(row[4]) == {"correct": True, "prompt_level": "independent", "outcome": ""}
    assert 0 <= row[5] < 60
    assert datetime.fromisoformat(event.wall_time).tzinfo is not None


def test_undo_writes_a_tombstone_and_hides_the_event(record: Record) -> None:
    client = record.caseload.add_client("Ava")
    session = record.sessions.start_session([client.id])
    kept = record.events.log(session.id, EventDraft(Count("vocalisation")))
    mistaken = record.events.log(session.id, EventDraft(Count("vocalisation")))
    tombstone = record.events.undo(mistaken.id)
    assert isinstance(tombstone.payload, Tombstone)
    assert [e.id for e in record.events.session_events(session.id)] == [kept.id]
    assert [e.id for e in record.events.session_events(session.id, include_undone=True)] == [
        kept.id,
        mistaken.id,
        tombstone.id,
    ]
    assert record.progress.summary(session.id).for_client(client.id)[0].counts["vocalisation"].total == 1
    with pytest.raises(ValueError, match="already undone"):
        record.events.undo(mistaken.id)
    with pytest.raises(ValueError, match="cannot itself be undone"):
        record.events.undo(tombstone.id)
    with raw_connection(record.data_dir) as other:
        count = other.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert count == 3  # nothing deleted


def test_validation_refuses_bad_taps_before_storing(record: Record) -> None:
    ava, ben = record.caseload.add_client("Ava"), record.caseload.add_client("Ben")
    group = record.sessions.start_session([ava.id, ben.id], "school")
    with pytest.raises(ValueError, match="must name the client"):
        record.events.log(group.id, EventDraft(Trial(True, "independent")))
    with pytest.raises(ValueError, match="not one of"):
        record.events.log(group.id, EventDraft(Trial(True, "telepathic"), client_id=ava.id))
    with pytest.raises(ValueError, match="outside its scale"):
        Rating("anxiety", 11)
    outsider = record.caseload.add_client("Cy")
    with pytest.raises(ValueError, match="not in session"):
        record.events.log(group.id, EventDraft(Count("initiation"), client_id=outsider.id))
    assert record.events.session_events(group.id) == [] and record.events.pending() == []


def test_configurable_prompt_hierarchy_scores_independence(record: Record) -> None:
    client = record.caseload.add_client("Ava")
    record.caseload.set_prompt_hierarchy(["independent", "visual", "hand-over-hand"], client_id=client.id)
    session = record.sessions.start_session([client.id])
    for correct, level in [(True, "independent"), (True, "visual"), (False, "hand-over-hand")]:
        record.events.log(session.id, EventDraft(Trial(correct, level)))
    trials = record.progress.summary(session.id).groups[0].trials
    assert trials is not None
    assert (trials.n, trials.correct, trials.independent) == (3, 2, 1)
    assert list(trials.by_level) == ["independent", "visual", "hand-over-hand"]
    assert record.caseload.prompt_hierarchy() == ("independent", "gestural", "verbal", "model", "physical")


def test_intervention_switch_tags_later_events_and_session(record: Record) -> None:
    client = record.caseload.add_client("Ava")
    session = record.sessions.start_session([client.id], plan_ids=["hello-song-greeting"])
    record.events.log(session.id, EventDraft(Intervention("timp-drum-reach")))
    tempo = record.events.log(session.id, EventDraft(Tempo(84, "4/4")))
    note = record.events.log(session.id, EventDraft(Note("reached across midline")))
    assert tempo.plan_id == note.plan_id == "timp-drum-reach"
    ended = record.sessions.end_session(session.id, plan_ids=["iso-principle-relaxation"])
    assert ended.plan_ids == ("hello-song-greeting", "iso-principle-relaxation", "timp-drum-reach")
    assert ended.ended_at is not None


def test_historical_events_take_their_offsets_from_wall_time(record: Record) -> None:
    client = record.caseload.add_client("Ava")
    start = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
    session = record.sessions.start_session([client.id], started_at=start)
    event = record.events.log(session.id, EventDraft(Count("smile"), wall_time=start + timedelta(minutes=12)))
    assert event.offset_s == 720
    assert record.sessions.sessions(client.id)[0].date.isoformat() == session.date.isoformat()


def test_migration_from_version_one_keeps_data(tmp_path: Path) -> None:
    with raw_connection(tmp_path) as old:
        assert migrate(old, target=1) == 1
        old.execute(
            "INSERT INTO clients (display_name, created_at) VALUES ('Legacy', '2023-01-01T00:00:00+00:00')"
        )
    with Record.open(tmp_path, backup_every=None) as record:
        (client,) = record.caseload.clients()
        assert client.display_name == "Legacy" and client.preferred_songs == ()
        version = record.database.connection.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        assert version == LATEST_VERSION


def test_goals_move_to_the_shared_domain_list_without_a_silent_relabel(tmp_path: Path) -> None:
    with raw_connection(tmp_path) as old:
        assert migrate(old, target=2) == 2
        old.execute(
            "INSERT INTO clients (display_name, created_at) VALUES ('Legacy', '2023-01-01T00:00:00+00:00')"
        )
        for domain in ("cognition", "emotional", "motor", "social", "other"):
            old.execute(
                "INSERT INTO goals (client_id, domain, description, created_at) "
                "VALUES (1, ?, ?, '2023-01-01T00:00:00+00:00')",
                (domain, f"a {domain} goal"),
            )
    with Record.open(tmp_path, backup_every=None) as record:
        (client,) = record.caseload.clients()
        filed = {goal.description: goal.domain for goal in record.caseload.goals(client.id)}
        assert filed == {
            "a cognition goal": "cognition/academic",  # the same domain under the plans' name
            "a emotional goal": "emotional/regulation",
            "a motor goal": "motor",  # gross or fine: only the therapist can say, so it stays as written
            "a social goal": "social",
            "a other goal": "other",
        }
        pain = record.caseload.add_goal(client.id, "pain", "Pain rating after session <= 4/10")
        assert pain.domain == "pain" and {"pain", "spiritual", "behavioural"} <= set(DOMAINS)
        assert record.caseload.add_goal(client.id, "Behavior", "fewer elopements").domain == "behavioural"
        with pytest.raises(ValueError, match='choose "fine motor" or "gross motor"'):
            record.caseload.add_goal(client.id, "motor", "reach")
        with pytest.raises(ValueError, match="goal domain"):
            record.caseload.add_goal(client.id, "astrology", "reach")


def test_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    with raw_connection(tmp_path) as conn:
        migrate(conn)
        conn.execute("INSERT INTO schema_version VALUES (?)", (LATEST_VERSION + 1,))
    before = fingerprint(tmp_path)
    with pytest.raises(SchemaTooNew, match="newer version of Companion"):
        Record.open(tmp_path, backup_every=None)
    assert fingerprint(tmp_path) == before
