"""User plans: they add to the shipped library and replace shipped plans with the same id."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest
from support.plan_files import VALID_PLAN, write_plan

from interventions import SHIPPED_DIR, Library, default_user_dir
from interventions.scaffold import FILE_MODE, scaffold, with_id, write_new
from interventions.vocabulary import GoalDomain, Technique

SHIPPED_RAS = (SHIPPED_DIR / "ras-gait-training.toml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def shipped_count(tmp_path_factory: pytest.TempPathFactory) -> int:
    return len(Library.load(tmp_path_factory.mktemp("none")).plans)


def test_a_user_plan_is_added(tmp_path: Path, shipped_count: int) -> None:
    write_plan(tmp_path, "mine.toml")
    library = Library.load(tmp_path)
    assert len(library.plans) == shipped_count + 1
    assert library.get("test-walk") is not None
    assert library.is_user_plan("test-walk") and not library.is_override("test-walk")
    assert library.path_of("test-walk") == tmp_path / "mine.toml"
    assert not library.is_user_plan("ras-gait-training")


def test_a_user_plan_replaces_the_shipped_plan_with_its_id(tmp_path: Path, shipped_count: int) -> None:
    write_plan(
        tmp_path, "my-ras.toml", SHIPPED_RAS.replace('title = "RAS gait training"', 'title = "My RAS"')
    )
    library = Library.load(tmp_path)
    plan = library.get("ras-gait-training")
    assert plan is not None and plan.title == "My RAS"
    assert library.is_override("ras-gait-training")
    assert library.path_of("ras-gait-training") == tmp_path / "my-ras.toml"
    assert len(library.plans) == shipped_count
    assert [p.title for p in library.plans].count("My RAS") == 1


def test_a_broken_override_keeps_the_shipped_plan_and_reports_the_file(tmp_path: Path) -> None:
    write_plan(tmp_path, "ras-gait-training.toml", SHIPPED_RAS.replace("bpm = 90", "bpm = 9000"))
    library = Library.load(tmp_path)
    plan = library.get("ras-gait-training")
    assert plan is not None and plan.title == "RAS gait training"
    assert not library.is_override("ras-gait-training")
    assert [(e.path.name, e.field) for e in library.errors] == [("ras-gait-training.toml", "tempo.bpm")]


def test_the_default_user_folder_is_the_platform_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_user_dir() == Path(platformdirs.user_data_dir("companion")) / "plans"
    assert default_user_dir() == tmp_path / "companion" / "plans"
    (tmp_path / "companion" / "plans").mkdir(parents=True)
    write_plan(tmp_path / "companion" / "plans", "x.toml")
    assert Library.load().get("test-walk") is not None


def test_scaffold_is_a_valid_plan_with_the_given_facts(tmp_path: Path) -> None:
    text = scaffold("gait-games", "Gait games", [GoalDomain.GROSS_MOTOR], technique=Technique.RAS)
    path = write_new(tmp_path / "plans", "gait-games", text)
    library = Library.load(tmp_path / "plans")
    plan = library.get("gait-games")
    assert library.errors == [] and plan is not None
    assert plan.technique is Technique.RAS and plan.tempo is not None and plan.tempo.bpm == 80
    assert path.stat().st_mode & 0o777 == FILE_MODE
    assert (tmp_path / "plans").stat().st_mode & 0o777 == 0o700


def test_writing_never_overwrites(tmp_path: Path) -> None:
    write_new(tmp_path, "x", "first")
    with pytest.raises(FileExistsError):
        write_new(tmp_path, "x", "second")
    assert (tmp_path / "x.toml").read_text() == "first"


def test_a_copy_under_a_new_id_keeps_everything_else() -> None:
    copy = with_id(VALID_PLAN, "my-walk")
    assert copy.splitlines()[0] == 'id = "my-walk"'
    assert copy.splitlines()[1:] == VALID_PLAN.splitlines()[1:]
    with pytest.raises(ValueError, match="no top-level"):
        with_id("title = 'x'\n", "y")
