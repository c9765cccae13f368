"""The documentation stays short, linked and true to the tree.

The README is a front page (what Companion is, the two commands, the keys, the layout, the benchmarks,
pointers); everything else lives in `docs/`. A page nobody links is never read, a broken link is a dead end,
and a file path that no longer exists is the drift that made the old README untrustworthy: so all three are
checked here, on every page.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 200

PAGES = sorted(DOCS.glob("*.md"))
DOCUMENTS = [README, *PAGES]

# [text](target) and <img src="target">; a target with a scheme (http:, mailto:) is not a file.
LINK = re.compile(r"\]\(([^)\s]+)\)|<img\s[^>]*src=\"([^\"]+)\"")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
CODE_BLOCK = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`([^`]+)`")
# A repository path: starts at one of the project's top-level folders (or a file at the root), and is made
# only of path characters. Globs and placeholders (`tests/test_cues_*`, `<data dir>/...`) are patterns,
# not paths, and are left alone.
TOP_LEVELS = ("audio", "interventions", "companion", "tests", "benchmarks", "docs", "scripts", ".ci")
REPO_PATH = re.compile(rf"(?<![\w./<-])((?:{'|'.join(re.escape(t) for t in TOP_LEVELS)})/[\w./*-]*)")
ROOT_FILE = re.compile(r"^(?:Makefile|pyproject\.toml|requirements\.lock|README\.md)$")


def relative_links(document: Path) -> list[str]:
    """Every link target of `document` that points into the repository, without its #anchor."""
    text = CODE_BLOCK.sub("", document.read_text(encoding="utf-8"))
    targets = [a or b for a, b in LINK.findall(text)]
    return [t.split("#", 1)[0] for t in targets if not SCHEME.match(t) and not t.startswith("#")]


def backticked_paths(document: Path) -> set[str]:
    """Repository paths written in `code` spans (code blocks hold commands and examples, not references)."""
    text = CODE_BLOCK.sub("", document.read_text(encoding="utf-8"))
    paths: set[str] = set()
    for span in CODE_SPAN.findall(text):
        span = span.strip()
        if ROOT_FILE.match(span):
            paths.add(span)
        for found in REPO_PATH.findall(span):
            path = found.rstrip(".,:;")
            if "*" not in path:
                paths.add(path)
    return paths


def test_the_readme_is_a_front_page() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines < MAX_README_LINES, f"README.md has {lines} lines: move detail to docs/"


def test_the_readme_names_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make run" in text and "make test" in text


def test_every_docs_page_is_linked_from_the_readme() -> None:
    linked = {(README.parent / target).resolve() for target in relative_links(README)}
    assert PAGES, "docs/ has no pages"
    assert [page.name for page in PAGES if page.resolve() not in linked] == []


def test_every_benchmark_is_named_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    shared = {"figures.py"}  # helpers several benchmarks share, not a benchmark
    benchmarks = [p for p in sorted((ROOT / "benchmarks").glob("*.py")) if p.name not in shared]
    assert [p.name for p in benchmarks if f"`benchmarks/{p.name}`" not in text] == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path) -> None:
    broken = [t for t in relative_links(document) if t and not (document.parent / t).exists()]
    assert broken == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_named_in_backticks_exists(document: Path) -> None:
    missing = sorted(p for p in backticked_paths(document) if not (ROOT / p).exists())
    assert missing == [], f"{document.relative_to(ROOT)} names files that are not in the tree"


def test_the_path_finder_sees_paths_and_skips_patterns(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "See `audio/tempo.py`, `companion/live/cue_choices.py: cue_choices()` and `tests/support/`.\n"
        "Not `tests/test_cues_*`, `<data dir>/plans/`, `make test` or `audio.tempo`.\n"
        "```sh\ncompanion plans validate interventions/plans/x.toml\n```\n"
        "A [link](docs/app.md#keys), [a site](https://example.org) and [here](#top).\n",
        encoding="utf-8",
    )
    assert backticked_paths(page) == {"audio/tempo.py", "companion/live/cue_choices.py", "tests/support/"}
    assert relative_links(page) == ["docs/app.md"]


FILE_SUFFIXES = {"db", "py", "toml", "md", "tcss", "json", "lock", "mid", "csv", "pdf", "wal"}
"""`companion.db` is a file name, not a module."""
DOTTED = re.compile(r"^((?:audio|interventions|companion)(?:\.\w+)+)(?:\(.*\))?$")


def backticked_names(document: Path) -> set[str]:
    """Dotted names of the project written in `code` spans (`companion.live.tap_writer.TapWriter`)."""
    text = CODE_BLOCK.sub("", document.read_text(encoding="utf-8"))
    names = {found[1] for span in CODE_SPAN.findall(text) if (found := DOTTED.match(span.strip()))}
    return {name for name in names if name.rpartition(".")[2] not in FILE_SUFFIXES}


def resolves(name: str) -> bool:
    """`name` is a module, or an attribute chain on the longest module prefix of it."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_dotted_name_in_backticks_exists(document: Path) -> None:
    """A module, class or function named in prose moves with a refactor; a stale one sends a reader to
    nothing, as the old README's names did."""
    missing = sorted(name for name in backticked_names(document) if not resolves(name))
    assert missing == [], f"{document.relative_to(ROOT)} names modules or objects that do not exist"


def test_the_name_checker_sees_a_stale_name() -> None:
    assert resolves("companion.live.tap_writer.TapWriter")
    assert not resolves("companion.live.session_controller.NoSuchThing")
    assert not resolves("companion.no_such_module")
