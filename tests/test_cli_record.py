"""The record's CLI commands, run through click against a real database in a temporary data folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from companion.cli import main
from companion.record import Record


def run(data: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--data-dir", str(data), *args], catch_exceptions=False)


def test_clients_goals_objectives_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    added = run(
        data, "clients", "add", "Ava", "--birth-year", "2016", "--music", "Moana", "--song", "song.mid"
    )
    assert added.exit_code == 0 and "Added client 1: Ava" in added.output
    assert "Added goal 1" in run(data, "goals", "add", "ava", "Turn-taking", "--domain", "social").output
    objective = run(data, "goals", "add-objective", "1", "Waits for cue", "--metric", "percent_correct")
    assert "percent correct >= 80 over 3 consecutive sessions" in objective.output
    listing = run(data, "clients", "list")
    assert "Ava" in listing.output and "(0 sessions)" in listing.output
    shown = run(data, "clients", "show", "1")
    assert "Preferred music: Moana" in shown.output and "Objective 1: Waits for cue" in shown.output
    assert "No data in this period." in shown.output
    with Record.open(data, backup_every=None) as record:
        assert record.caseload.client(1).preferred_songs == (str((Path.cwd() / "song.mid").resolve()),)


def test_an_objective_s_hierarchy_minimum_domain_and_phases_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run(data, "clients", "add", "Mr. G")
    assert (
        'choose "fine motor" or "gross motor"'
        in CliRunner()
        .invoke(main, ["--data-dir", str(data), "goals", "add", "1", "Walk", "--domain", "motor"])
        .output
    )
    assert run(data, "goals", "add", "1", "Speech", "--domain", "Communication").exit_code == 0
    levels = "independent,repetition after model,partial unison,unison"
    added = run(
        data, "goals", "add-objective", "1", "Phrases", "--prompt-levels", levels, "--min-opportunities", "5"
    )
    assert "at least 5 trials each" in added.output
    phase = run(data, "goals", "phase", "1", "baseline", "--since", "2026-09-01")
    assert "is in baseline from 2026-09-01" in phase.output
    with Record.open(data, backup_every=None) as record:
        objective = record.caseload.objective(1)
        assert objective.prompt_levels == tuple(levels.split(",")) and objective.criterion.minimum == 5
        assert [(p.phase, p.since.isoformat()) for p in record.caseload.phases(1)] == [
            ("baseline", "2026-09-01")
        ]
        assert record.caseload.goal(1).domain == "communication"


def test_env_var_selects_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPANION_DATA_DIR", str(tmp_path / "env"))
    result = CliRunner().invoke(main, ["clients", "add", "Ben"])
    assert result.exit_code == 0
    assert (tmp_path / "env" / "companion.db").exists()


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    missing = run(data, "clients", "show", "Nobody")
    assert missing.exit_code == 1 and "no client named 'Nobody'" in missing.output
    data.mkdir(exist_ok=True)
    (data / "companion.db").write_bytes(b"not a database" * 200)
    corrupt = run(data, "clients", "list")
    assert corrupt.exit_code == 1
    assert "is damaged or is not a Companion database" in corrupt.output and "Traceback" not in corrupt.output


def test_demo_data_sessions_list_and_backups(tmp_path: Path) -> None:
    data = tmp_path / "data"
    created = run(data, "demo-data", "--if-empty")
    assert created.exit_code == 0 and "9 clients" in created.output
    again = run(data, "demo-data", "--if-empty")
    assert again.exit_code == 0 and "not added" in again.output
    assert run(data, "demo-data").exit_code == 1
    sessions = run(data, "sessions", "list", "--client", "Mr. G")
    assert sessions.exit_code == 0 and "outpatient rehab clinic" in sessions.output
    assert len(sessions.output.splitlines()) >= 12
    listed = run(data, "backups", "list")
    assert "companion-" in listed.output


def test_demo_data_help_says_how_many_clients_it_makes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run(data, "demo-data").exit_code == 0
    with Record.open(data, backup_every=None) as record:
        made = len(record.caseload.clients())
    described = " ".join(run(data, "demo-data", "--help").output.split())
    assert f"demo practice: {made} clients" in described, described


def test_backup_restore_keeps_the_replaced_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run(data, "clients", "add", "Ava")
    with Record.open(data, backup_every=None) as record:
        record.backups.backup_now()
        record.caseload.add_client("Added after the backup")
    restored = run(data, "backups", "restore")
    assert restored.exit_code == 0 and "previous database was kept" in restored.output
    with Record.open(data, backup_every=None) as record:
        assert [c.display_name for c in record.caseload.clients()] == ["Ava"]
    assert list(data.glob("companion.db.replaced-*"))
