"""The layering rules of the project, checked on the source itself.

`audio/` and `interventions/` are libraries: importing `textual` or `companion` from them would tie the
timing engine and the plan loader to the UI, so it is forbidden here rather than by convention.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

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
