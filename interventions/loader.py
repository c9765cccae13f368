"""Read plan files into `Plan`s, turning every kind of breakage into `PlanError`s that name the spot.

A broken file must cost only itself: the loader never raises for bad input, it reports. Each error says
which file, which line (from tomllib for syntax errors, from `KeyLines` for schema errors), which field,
what is wrong and what to do about it.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from interventions.errors import PlanError, SchemaProblem
from interventions.plan import Plan
from interventions.toml_lines import KeyLines

#: A plan is a page of text; anything much bigger is not a plan and would only slow the library down.
MAX_PLAN_BYTES = 256 * 1024
_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column \d+|end of document)\)\s*$")


@dataclass(frozen=True)
class LoadedPlan:
    """A valid plan, the file it came from and that file's text (to point at lines later)."""

    plan: Plan
    path: Path
    source: str


def read_plan(path: Path) -> tuple[LoadedPlan | None, list[PlanError]]:
    """Parse and validate one plan file: the plan, or None and every problem found in it."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return None, [PlanError(path, None, None, f"cannot read the file ({reason})", _READ_FIX)]
    if len(raw) > MAX_PLAN_BYTES:
        return None, [
            PlanError(
                path, None, None, f"file is {len(raw):,} bytes, too big for a plan",
                f"a plan is a few KB of TOML; keep plan files under {MAX_PLAN_BYTES // 1024} KB",
            )
        ]  # fmt: skip
    try:
        source = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [
            PlanError(path, line, None, "the file is not UTF-8 text", "save it as UTF-8 (plain text)")
        ]
    try:
        document = tomllib.loads(source)
        plan = Plan.model_validate(document)
    except tomllib.TOMLDecodeError as exc:
        return None, [_syntax_error(path, source, exc)]
    except RecursionError:  # arrays or tables nested hundreds deep: no plan looks like that
        return None, [
            PlanError(
                path, None, None, "values are nested too deeply to read",
                "a plan nests tables and lists a few levels at most; remove the deep nesting",
            )
        ]  # fmt: skip
    except ValidationError as exc:
        lines = KeyLines(source)  # only now: scanning for lines costs as much as parsing
        errors = [_schema_error(path, lines, error) for error in exc.errors(include_url=False)]
        return None, sorted(errors, key=lambda error: error.line or 0)
    return LoadedPlan(plan, path, source), []


def load_directory(directory: Path) -> tuple[list[LoadedPlan], list[PlanError]]:
    """Every valid plan in `directory/*.toml` (sorted by file name) and the problems of the others.

    A missing directory holds no plans and is not an error (a new user has no plans yet). When two files
    declare the same id the first by file name wins and the other is reported.
    """
    if not directory.exists():
        return [], []
    if not directory.is_dir():
        return [], [PlanError(directory, None, None, "is not a folder", "give the folder that holds plans")]
    try:
        paths = sorted(p for p in directory.iterdir() if p.suffix == ".toml" and not p.name.startswith("."))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return [], [PlanError(directory, None, None, f"cannot list the folder ({reason})", _READ_FIX)]
    loaded: dict[str, LoadedPlan] = {}
    errors: list[PlanError] = []
    for path in paths:
        entry, problems = read_plan(path)
        errors.extend(problems)
        if entry is None:
            continue
        first = loaded.get(entry.plan.id)
        if first is None:
            loaded[entry.plan.id] = entry
            continue
        id_line = KeyLines(entry.source).line_of(("id",))
        message = f"duplicate id {entry.plan.id!r}, already used by {first.path.name}"
        errors.append(
            PlanError(
                path, id_line, "id", message, "give this plan its own id, or delete one of the two files"
            )
        )
    return list(loaded.values()), errors


_READ_FIX = "check that the path exists and that you are allowed to read it"


def _syntax_error(path: Path, source: str, exc: tomllib.TOMLDecodeError) -> PlanError:
    text = str(exc)
    position = _TOML_POSITION.search(text)
    if position is None:
        line = None
    elif position.group(1) is not None:
        line = int(position.group(1))
    else:
        line = max(1, source.count("\n") + (0 if source.endswith("\n") else 1))
    message = text[: position.start()] if position else text
    return PlanError(path, line, None, f"TOML syntax: {message}", _syntax_fix(message))


def _syntax_fix(message: str) -> str:
    lowered = message.casefold()
    if "illegal character '\\n'" in lowered:
        return "a text value is missing its closing quote on that line"
    if "overwrite" in lowered or "declare" in lowered:
        return "a key or table appears twice; keep only one of them"
    if "invalid value" in lowered or "invalid initial character" in lowered:
        return 'put text in "double quotes" and check numbers, true/false and [lists]'
    if "unclosed" in lowered or "expected" in lowered:
        return "close the string, list or table that starts here (a missing quote, ] or })"
    return "check quotes, commas, brackets and `key = value` on that line"


def _schema_error(path: Path, lines: KeyLines, error: ErrorDetails) -> PlanError:
    location: tuple[str | int, ...] = tuple(error["loc"])
    problem = (error.get("ctx") or {}).get("error")
    if isinstance(problem, SchemaProblem):
        if problem.field:
            location = (*location, problem.field)
        message, fix = problem.message, problem.fix
    else:
        message, fix = _explain(error, location)
    return PlanError(path, lines.line_of(location), field_name(location), message, fix)


def field_name(location: Iterable[str | int]) -> str:
    """ "data[2].label" for ("data", 1, "label"): dotted like TOML tables, list items counted from 1."""
    text = ""
    for part in location:
        text += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


_EXPECTED = {
    "string_type": "text in quotes",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": 'a list such as ["a", "b"]',
    "model_type": "a table",
    "dict_type": "a table",
}


def _explain(error: ErrorDetails, location: tuple[str | int, ...]) -> tuple[str, str]:
    kind = error["type"]
    info = _field_at(location)
    hint = info.description if info is not None and info.description else ""
    name = next((part for part in reversed(location) if isinstance(part, str)), "")
    if kind == "missing":
        table = field_name(part for part in location[:-1])
        where = f" under [{table}]" if table else ""
        return "required key is missing", f"add `{name} = ...`{where}" + (f": {hint}" if hint else "")
    if kind == "extra_forbidden":
        known = _keys_beside(location)
        close = difflib.get_close_matches(name, known, n=1)
        fix = f"did you mean `{close[0]}`?" if close else "remove it; allowed here: " + ", ".join(known)
        return f"unknown key {name!r}", fix
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_describe(error['input'])}", _expected(hint)
    if kind in ("enum", "literal_error"):
        return f"{_describe(error['input'])} is not allowed: {_lower_first(error['msg'])}", "use one of those"
    return f"{_lower_first(error['msg'])} (got {_describe(error['input'])})", _expected(hint)


def _expected(hint: str) -> str:
    return f"expected: {hint}" if hint else "correct the value"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'"{shown}"'
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "a table"
    return repr(value)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside `X`, `list[X]` or `X | None`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) in (typing.Union, list):
        for argument in typing.get_args(annotation):
            if (found := _model_in(argument)) is not None:
                return found
    return None


def _walk(location: tuple[str | int, ...]) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The model that holds the last key of `location`, and that key's field (if it exists)."""
    model: type[BaseModel] | None = Plan
    info: FieldInfo | None = None
    holder: type[BaseModel] | None = Plan
    for part in location:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return model, None
        holder, info = model, model.model_fields[part]
        model = _model_in(info.annotation)
    return holder, info


def _field_at(location: tuple[str | int, ...]) -> FieldInfo | None:
    return _walk(location)[1]


def _keys_beside(location: tuple[str | int, ...]) -> list[str]:
    holder, _ = _walk(location)
    return list(holder.model_fields) if holder is not None else []
