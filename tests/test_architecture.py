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


PACKAGES = ("audio", "interventions", "companion")


def project_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages."""
    modules: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def module_imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `name` imports, wherever the import statement stands (a function-local import
    or one under TYPE_CHECKING still ties the two modules together). `from package import submodule`
    imports the submodule; `from package import name` imports the package's `__init__`."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                whole = f"{source}.{alias.name}"
                found.add(whole if whole in modules else source)
    owners = set()
    for imported in found:
        while imported and imported not in modules:
            imported = imported.rpartition(".")[0]
        if imported and imported != name:
            owners.add(imported)
    return owners


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(graph.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = [stack.pop()]
            while component[-1] != module:
                component.append(stack.pop())
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return circles


def test_no_module_imports_itself_in_a_circle() -> None:
    """A circle (the app imports a screen that imports the app) means neither side can be read, tested or
    moved alone; every package of the project is checked, `companion.live`, `record`, `documents` and
    `cli` included."""
    modules = project_modules()
    graph = {name: module_imports(name, path, modules) for name, path in modules.items()}
    assert import_circles(graph) == []


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert import_circles(graph) == [["a", "b", "c"]]


def test_the_live_session_runs_without_textual() -> None:
    """`companion.live` holds the session's rules; the app only shows them, so nothing there imports
    Textual or the app."""
    modules = project_modules()
    offenders = {
        name: sorted(imported_top_levels(path) & {"textual"})
        + sorted(m for m in module_imports(name, path, modules) if m.startswith("companion.app"))
        for name, path in modules.items()
        if name.startswith("companion.live")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize("layer", ["companion.record", "companion.documents"])
def test_the_record_and_documents_know_nothing_of_the_session_or_the_ui(layer: str) -> None:
    modules = project_modules()
    above = ("companion.live", "companion.app", "companion.cli", "companion.serve")
    offenders = {
        name: sorted(m for m in module_imports(name, path, modules) if m.startswith(above))
        for name, path in modules.items()
        if name.startswith(layer)
    }
    assert {k: v for k, v in offenders.items() if v} == {}
