"""`companion plans ...` end to end through click, on the real shipped library and temporary user folders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.plan_files import VALID_PLAN, write_plan

from companion.cli import main
from companion.cli.plan_commands import parse_goal, plans_user_dir


def run(user_dir: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, ["plans", "--user-dir", str(user_dir), *args], input=input)


def test_list_shows_every_plan_and_marks_user_plans(tmp_path: Path) -> None:
    write_plan(tmp_path, "mine.toml")
    result = run(tmp_path, "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("*test-walk ") for line in lines)
    assert any(line.startswith(" ras-gait-training ") and "RAS" in line for line in lines)
    assert re.search(r"^(\d+) of \1 plans$", result.output, re.MULTILINE)


def test_list_filters_by_domain_and_technique(tmp_path: Path) -> None:
    result = run(tmp_path, "list", "--domain", "motor", "--technique", "RAS")
    assert result.exit_code == 0
    rows = [line.split()[0] for line in result.output.splitlines() if line.startswith(" ")]
    assert rows == ["ras-gait-training", "ras-pediatric-gait"]


def test_list_rejects_unknown_filter_values_with_the_choices(tmp_path: Path) -> None:
    result = run(tmp_path, "list", "--domain", "motr")
    assert result.exit_code == 2
    assert "unknown goal domain 'motr'; use one of: communication" in result.output


def test_show_prints_the_whole_plan(tmp_path: Path) -> None:
    result = run(tmp_path, "show", "ras-gait-training")
    assert result.exit_code == 0, result.output
    text = result.output
    for heading in ["Objectives", "Materials", "Steps", "Easier", "Harder", "Precautions", "Data"]:
        assert f"\n{heading}\n" in text
    assert "  1. Check today's status" in text and "  7. Finish with a walk" in text
    assert "Tempo        90 bpm (60-120), 4/4, cue march, +5% every 8 bars up to 120 bpm" in text
    assert "  - cadence: Cadence (steps/min), before/during/after" in text
    assert "Approach     NMT: RAS (Rhythmic Auditory Stimulation)" in text


def test_show_unknown_id_suggests_close_ids(tmp_path: Path) -> None:
    result = run(tmp_path, "show", "ras-gait")
    assert result.exit_code == 1
    assert "no plan with id 'ras-gait'. Did you mean: ras-gait-training" in result.output


def test_search_prints_ranked_matches(tmp_path: Path) -> None:
    result = run(tmp_path, "search", "aphasia")
    assert result.exit_code == 0
    assert result.output.splitlines()[0].split()[0] == "mit-phrase-production"
    assert "No plans mention" in run(tmp_path, "search", "zeppelin").output


def test_suggest_explains_each_suggestion(tmp_path: Path) -> None:
    result = run(tmp_path, "suggest", "motor: walk 10 m with a steady cadence", "--age", "70", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1. RAS gait training  [ras-gait-training]")
    assert '   - goal 1 "walk 10 m with a steady cadence": serves gross motor' in result.output


def test_goal_prefix_is_a_domain_only_when_it_names_one() -> None:
    assert parse_goal("motor: walk 10 m") == ("motor", "walk 10 m")
    assert parse_goal("Note: walk 10 m") == "Note: walk 10 m"
    assert parse_goal("walk 10 m") == "walk 10 m"


def test_validate_the_whole_library_passes(tmp_path: Path) -> None:
    result = run(tmp_path, "validate")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"\d+ plan\(s\) valid\n", result.output)


def test_validate_reports_every_problem_and_exits_non_zero(tmp_path: Path) -> None:
    write_plan(tmp_path, "good.toml")
    write_plan(tmp_path, "syntax.toml", 'id = "x"\ntitle = "broken\n')
    schema = VALID_PLAN.replace("bpm = 84", "bpm = 999").replace('kind = "trial"', 'kind = "trail"')
    write_plan(tmp_path, "schema.toml", schema)
    bpm_line, kind_line = (schema.splitlines().index(line) + 1 for line in ("bpm = 999", 'kind = "trail"'))
    result = run(tmp_path, "validate", str(tmp_path))
    assert result.exit_code == 1
    assert f"{tmp_path / 'syntax.toml'}:2: TOML syntax:" in result.output
    schema_path = tmp_path / "schema.toml"
    assert (
        f"{schema_path}:{bpm_line}: tempo.bpm: input should be less than or equal to 300 (got 999)"
        in result.output
    )
    assert f'{schema_path}:{kind_line}: data[1].kind: "trail" is not allowed' in result.output
    assert "1 plan(s) valid; 3 problem(s) in 2 file(s)" in result.output


def test_validate_a_single_good_file(tmp_path: Path) -> None:
    result = run(tmp_path, "validate", str(write_plan(tmp_path, "good.toml")))
    assert (result.exit_code, result.output) == (0, "1 plan(s) valid\n")


def test_list_warns_about_broken_user_plans_but_lists_the_rest(tmp_path: Path) -> None:
    write_plan(tmp_path, "broken.toml", "id = ")
    result = run(tmp_path, "list")
    assert result.exit_code == 0
    assert "1 plan file(s) could not be loaded; run `companion plans validate`" in result.output
    assert "ras-gait-training" in result.output


def test_new_from_options_writes_a_valid_private_file(tmp_path: Path) -> None:
    user = tmp_path / "plans"
    options = ["--title", "Drum and sing hello", "--domain", "social", "--domain", "motor", "--bpm", "96"]
    options += ["--population", "children with autism", "--format", "group", "--setting", "school"]
    result = run(user, "new", *options)
    assert result.exit_code == 0, result.output
    path = user / "drum-and-sing-hello.toml"
    assert f"Created {path}\n1 plan(s) valid\n" in result.output
    assert path.stat().st_mode & 0o777 == 0o600 and user.stat().st_mode & 0o777 == 0o700
    shown = run(user, "show", "drum-and-sing-hello").output
    assert "Domains      social, fine motor, gross motor" in shown and "Tempo        96 bpm, 4/4" in shown


def test_new_refuses_to_overwrite(tmp_path: Path) -> None:
    assert run(tmp_path, "new", "--title", "Mine", "--domain", "pain").exit_code == 0
    before = (tmp_path / "mine.toml").read_text()
    result = run(tmp_path, "new", "--title", "Mine", "--domain", "anxiety")
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert (tmp_path / "mine.toml").read_text() == before


def test_new_asks_for_what_is_missing(tmp_path: Path) -> None:
    result = run(tmp_path, "new", input="Sing and move\n\nmotor, social\nolder adults\n")
    assert result.exit_code == 0, result.output
    assert "Id [sing-and-move]:" in result.output
    text = (tmp_path / "sing-and-move.toml").read_text()
    assert 'domains = ["fine motor", "gross motor", "social"]' in text
    assert 'populations = ["older adults"]' in text


def test_new_rejects_bad_ids_and_names(tmp_path: Path) -> None:
    assert (
        "must be lower-case"
        in run(tmp_path, "new", "--title", "X", "--id", "Bad Id", "--domain", "pain").output
    )
    assert (
        "unknown technique 'XYZ'"
        in run(tmp_path, "new", "--title", "X", "--domain", "pain", "--technique", "XYZ").output
    )
    assert (
        "unknown place 'moon'"
        in run(tmp_path, "new", "--title", "X", "--domain", "pain", "--setting", "moon").output
    )
    assert list(tmp_path.iterdir()) == []


def test_new_from_copies_a_plan_to_adapt_or_replace(tmp_path: Path) -> None:
    result = run(tmp_path, "new", "--from", "ras-gait-training")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ras-gait-training.toml").exists()
    assert "(your plan, replacing the shipped one)" in run(tmp_path, "show", "ras-gait-training").output
    variant = run(tmp_path, "new", "--from", "ras-gait-training", "--id", "ras-slow-start")
    assert variant.exit_code == 0, variant.output
    assert "*ras-slow-start" in run(tmp_path, "list", "--technique", "RAS").output


def test_user_dir_follows_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPANION_DATA_DIR", raising=False)
    assert plans_user_dir(tmp_path / "explicit", tmp_path / "data") == tmp_path / "explicit"
    assert plans_user_dir(None, tmp_path / "data") == tmp_path / "data" / "plans"
    monkeypatch.setenv("COMPANION_DATA_DIR", str(tmp_path / "env"))
    assert plans_user_dir(None, None) == tmp_path / "env" / "plans"
    (tmp_path / "env" / "plans").mkdir(parents=True, exist_ok=True)
    write_plan(tmp_path / "env" / "plans", "mine.toml")
    result = CliRunner().invoke(main, ["plans", "show", "test-walk"])
    assert result.exit_code == 0 and "Test walk" in result.output
