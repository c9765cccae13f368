"""The layering rules of the project, checked on the source itself.

`audio/` and `interventions/` are libraries: importing `textual` or `companion` from them would tie the
timing engine and the plan loader to the UI, so it is forbidden here rather than by convention.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"textual", "companion"}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("library", ["audio", "interventions"])
def test_libraries_do_not_import_the_app(library: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_levels(path) & FORBIDDEN)
        for path in (ROOT / library).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("import textual.app\nfrom companion.cli import main\nimport numpy\n")
    assert imported_top_levels(sample) == {"textual", "companion", "numpy"}


IN_PROCESS_ENGINE = {"audio.engine.Metronome", "audio.cue_player.CuePlayer"}
"""The engine objects that keep time: only the engine process may make them (`audio.engine_host`)."""


def names_imported_from_modules(path: Path) -> set[str]:
    """`module.name` for every `from module import name` in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {
        f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }


def test_the_app_and_the_cli_keep_time_only_through_the_engine_process() -> None:
    """Timing never rides the UI's interpreter: `companion/` plays through `audio.engine_client`."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(names_imported_from_modules(path) & IN_PROCESS_ENGINE)
        for path in (ROOT / "companion").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_engine_checker_sees_an_in_process_engine(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text("from audio.engine import AudioConfig, Metronome\n")
    assert names_imported_from_modules(sample) & IN_PROCESS_ENGINE == {"audio.engine.Metronome"}


def test_every_dependency_is_pinned_in_the_lock_file() -> None:
    """`make` installs with requirements.lock as constraints: a dependency missing from it would float, and
    the snapshot tests would judge whatever Textual happened to be installed."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    names = {Requirement(spec).name.lower().replace("_", "-") for spec in wanted}
    assert names - pinned == set()
    textual = next(Requirement(spec) for spec in project["dependencies"] if spec.startswith("textual>"))
    assert not textual.specifier.contains("9.0"), "a new major Textual must be taken on purpose"
