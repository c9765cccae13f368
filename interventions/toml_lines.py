"""Find the line of a key in TOML source, so a schema error can say "file:line".

`tomllib` reports lines only for syntax errors and returns plain dicts without positions. Rather than
depend on a round-trip TOML parser, this scans the (already syntactically valid) source once, tracking
table headers, arrays of tables, dotted keys, strings and brackets, and records the line where each key
path starts, and where each element of a multi-line array starts. A pydantic error location such as
`("data", 1, "label")` then maps to the nearest recorded path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

Path = tuple[str | int, ...]

_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_KEYS = rf"{_PART}(?:\s*\.\s*{_PART})*"
_ARRAY_HEADER = re.compile(rf"\s*\[\[\s*({_KEYS})\s*\]\]")
_TABLE_HEADER = re.compile(rf"\s*\[\s*({_KEYS})\s*\]")
_KEY_VALUE = re.compile(rf"\s*({_KEYS})\s*=")


def _parts(keys: str) -> tuple[str, ...]:
    names = []
    for part in re.findall(_PART, keys):
        if part.startswith('"'):
            try:
                names.append(json.loads(part))
            except ValueError:
                names.append(part[1:-1])
        elif part.startswith("'"):
            names.append(part[1:-1])
        else:
            names.append(part)
    return tuple(names)


@dataclass
class _Array:
    """A multi-line array being scanned: whose value it is and which element comes next."""

    path: Path
    depth: int
    index: int = 0
    expecting: bool = True


@dataclass
class _Scanner:
    lines: dict[Path, int] = field(default_factory=dict)
    table: Path = ()
    array_tables: dict[Path, int] = field(default_factory=dict)
    depth: int = 0
    open_string: str | None = None
    arrays: list[_Array] = field(default_factory=list)
    value_path: Path = ()

    def resolve(self, names: tuple[str, ...]) -> Path:
        """A header's names with the current index of every enclosing array of tables filled in."""
        path: Path = ()
        for name in names:
            path = (*path, name)
            if path in self.array_tables:
                path = (*path, self.array_tables[path])
        return path

    def record(self, path: Path, line: int) -> None:
        self.lines.setdefault(path, line)

    def statement(self, text: str, line: int) -> int:
        """Handle the start of a line at top level; return where value scanning should continue."""
        if found := _ARRAY_HEADER.match(text):
            names = _parts(found.group(1))
            parent = self.resolve(names[:-1])
            key = (*parent, names[-1])
            self.array_tables[key] = self.array_tables.get(key, -1) + 1
            self.table = (*key, self.array_tables[key])
            self.record(key, line)
            self.record(self.table, line)
            return found.end()
        if found := _TABLE_HEADER.match(text):
            self.table = self.resolve(_parts(found.group(1)))
            self.record(self.table, line)
            return found.end()
        if found := _KEY_VALUE.match(text):
            path = (*self.table, *_parts(found.group(1)))
            self.record(path, line)
            self.value_path = path
            return found.end()
        return 0

    def scan(self, text: str, start: int, line: int) -> None:
        """Follow strings, comments and brackets from `start` to the end of the line."""
        i = start
        while i < len(text):
            if self.open_string is not None:
                i = self._close_multiline(text, i)
                continue
            char = text[i]
            if char == "#":
                return
            if char.isspace() or char == ",":
                if char == "," and self.arrays and self.depth == self.arrays[-1].depth:
                    self.arrays[-1].expecting = True
                i += 1
                continue
            if char in "]}":
                if char == "]" and self.arrays and self.arrays[-1].depth == self.depth:
                    self.arrays.pop()
                self.depth = max(0, self.depth - 1)
                i += 1
                continue
            self._element_starts(line)
            if text.startswith('"""', i) or text.startswith("'''", i):
                self.open_string = text[i : i + 3]
                i += 3
            elif char in "\"'":
                i = _end_of_string(text, i)
            elif char in "[{":
                self.depth += 1
                if char == "[":
                    self.arrays.append(_Array(self._array_path(), self.depth))
                i += 1
            else:
                i += 1

    def _array_path(self) -> Path:
        if self.arrays and self.arrays[-1].depth == self.depth - 1:
            outer = self.arrays[-1]
            return (*outer.path, outer.index - 1)
        return self.value_path

    def _element_starts(self, line: int) -> None:
        if self.arrays and self.depth == self.arrays[-1].depth and self.arrays[-1].expecting:
            array = self.arrays[-1]
            self.record((*array.path, array.index), line)
            array.index += 1
            array.expecting = False

    def _close_multiline(self, text: str, i: int) -> int:
        delimiter = self.open_string or ""
        while i < len(text):
            if delimiter == '"""' and text[i] == "\\":
                i += 2
                continue
            if text.startswith(delimiter, i):
                i += 3
                while i < len(text) and text[i] == delimiter[0]:
                    i += 1  # up to two quotes may end the string's content
                self.open_string = None
                return i
            i += 1
        return i


def _end_of_string(text: str, i: int) -> int:
    quote = text[i]
    i += 1
    while i < len(text):
        if quote == '"' and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    return i


class KeyLines:
    """Line numbers (1-based) of the keys, tables and array elements in one TOML document."""

    def __init__(self, source: str) -> None:
        scanner = _Scanner()
        # Only "\n" ends a TOML line; str.splitlines() would also split at U+2028 or U+0085 inside strings.
        for number, text in enumerate(source.split("\n"), start=1):
            start = 0
            if scanner.open_string is None and scanner.depth == 0:
                start = scanner.statement(text, number)
            scanner.scan(text, start, number)
        self._lines = scanner.lines

    def line_of(self, location: Sequence[str | int]) -> int | None:
        """The line of `location`, else of its nearest enclosing key or table.

        None when not even the first key is in the file (a missing top-level key)."""
        path = tuple(location)
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return None
