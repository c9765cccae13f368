"""Loading plan files: every kind of breakage becomes a PlanError naming file, line and field, and
never stops the other plans from loading."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.plan_files import VALID_PLAN, to_toml, write_plan

from interventions import SHIPPED_DIR, PlanError, read_plan
from interventions.loader import load_directory
from interventions.toml_lines import KeyLines


def line_of(text: str, start: str) -> int:
    """The 1-based number of the first line of `text` starting with `start`."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(start))


def only_error(path: Path) -> PlanError:
    entry, errors = read_plan(path)
    assert entry is None
    assert len(errors) == 1, errors
    return errors[0]


def test_a_valid_file_loads(tmp_path: Path) -> None:
    entry, errors = read_plan(write_plan(tmp_path, "walk.toml"))
    assert errors == []
    assert entry is not None
    assert (entry.plan.id, entry.path) == ("test-walk", tmp_path / "walk.toml")


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    text = VALID_PLAN.replace('meter = "4/4"', 'meter = "4/4')
    error = only_error(write_plan(tmp_path, "broken.toml", text))
    assert error.path == tmp_path / "broken.toml"
    assert error.line == line_of(text, "meter =")
    assert error.message.startswith("TOML syntax:")
    assert "closing quote" in error.fix
    assert str(error).startswith(f"{tmp_path / 'broken.toml'}:{error.line}: TOML syntax:")


def test_duplicate_key_is_a_syntax_error_with_a_fix(tmp_path: Path) -> None:
    text = VALID_PLAN.replace('title = "Test walk"', 'title = "Test walk"\ntitle = "Again"')
    error = only_error(write_plan(tmp_path, "twice.toml", text))
    assert error.line == 3
    assert "appears twice" in error.fix


def test_unknown_field_names_its_line_and_the_likely_spelling(tmp_path: Path) -> None:
    text = VALID_PLAN.replace("precautions =", "precuations =")
    entry, errors = read_plan(write_plan(tmp_path, "typo.toml", text))
    assert entry is None
    by_field = {error.field: error for error in errors}
    assert by_field["precuations"].line == line_of(text, "precuations =")
    assert by_field["precuations"].message == "unknown key 'precuations'"
    assert by_field["precuations"].fix == "did you mean `precautions`?"
    assert by_field["precautions"].message == "required key is missing"
    assert by_field["precautions"].line is None


def test_unknown_field_inside_a_table_lists_that_tables_keys(tmp_path: Path) -> None:
    text = VALID_PLAN.replace("every_bars = 8", "every_bars = 8\nspeed = 3")
    error = only_error(write_plan(tmp_path, "ramp.toml", text))
    assert (error.field, error.line) == ("tempo.ramp.speed", line_of(text, "speed ="))
    assert error.fix.startswith("remove it; allowed here: kind, to_bpm, beats")


def test_wrong_type_names_field_line_and_expected_type(tmp_path: Path) -> None:
    text = VALID_PLAN.replace("bpm = 84", 'bpm = "84"')
    error = only_error(write_plan(tmp_path, "type.toml", text))
    assert (error.field, error.line) == ("tempo.bpm", line_of(text, "bpm = "))
    assert error.message == 'expected a number, got "84"'
    assert "20-300" in error.fix


def test_bpm_out_of_range(tmp_path: Path) -> None:
    text = VALID_PLAN.replace("bpm = 84", "bpm = 400").replace("bpm_max = 100", "bpm_max = 300")
    text = text.replace("max_bpm = 100", "max_bpm = 300")
    error = only_error(write_plan(tmp_path, "fast.toml", text))
    assert (error.field, error.line) == ("tempo.bpm", line_of(text, "bpm = 400"))
    assert "less than or equal to 300 (got 400)" in error.message


def test_errors_inside_arrays_of_tables_point_at_the_right_entry(tmp_path: Path) -> None:
    text = VALID_PLAN.replace("scale_max = 10", "scale_max = 0")
    error = only_error(write_plan(tmp_path, "scale.toml", text))
    assert error.field == "data[2].scale_max"
    assert error.line == line_of(text, "scale_max = 0")


def test_errors_inside_multiline_arrays_point_at_the_element(tmp_path: Path) -> None:
    text = VALID_PLAN.replace('    "Raise the tempo by 5%.",', '    "Raise the tempo by 5%.",\n    "   ",')
    error = only_error(write_plan(tmp_path, "blank.toml", text))
    assert error.field == "steps[4]"
    assert error.line == line_of(text, '    "   ",')


def test_a_whole_table_check_points_at_the_key_at_fault(tmp_path: Path) -> None:
    text = VALID_PLAN.replace("max_bpm = 100", "max_bpm = 80")
    error = only_error(write_plan(tmp_path, "ceiling.toml", text))
    assert (error.field, error.line) == ("tempo.ramp.max_bpm", line_of(text, "max_bpm = 80"))


def test_every_problem_in_a_file_is_reported_in_line_order(tmp_path: Path) -> None:
    text = VALID_PLAN.replace("age_max = 100", "age_max = 10").replace("swing = 0.0", "swing = 2.0")
    text = text.replace('kind = "rating"', 'kind = "ratings"')
    _, errors = read_plan(write_plan(tmp_path, "many.toml", text))
    assert [e.field for e in errors] == ["age_max", "tempo.swing", "data[2].kind"]
    assert [e.line for e in errors] == sorted(e.line or 0 for e in errors)


def test_line_numbers_count_only_newlines(tmp_path: Path) -> None:
    text = VALID_PLAN.replace("Walk to a steady beat", "Walk\u2028to a\x85steady beat").replace(
        "bpm = 84", "bpm = 8"
    )
    error = only_error(write_plan(tmp_path, "separators.toml", text))
    assert (error.field, error.line) == ("tempo.bpm", text.split("\n").index("bpm = 8") + 1)


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(VALID_PLAN.replace("Test walk", "Test marche à pied").encode("latin-1"))
    error = only_error(path)
    assert (error.line, error.message) == (2, "the file is not UTF-8 text")


def test_unreadable_path_is_reported_not_raised(tmp_path: Path) -> None:
    error = only_error(tmp_path)
    assert error.message.startswith("cannot read the file")
    assert "permission" in error.fix or "exists" in error.fix


def test_huge_file_is_refused_without_parsing(tmp_path: Path) -> None:
    path = write_plan(tmp_path, "huge.toml", VALID_PLAN + "# padding\n" * 40_000)
    assert "too big for a plan" in only_error(path).message


def test_duplicate_ids_keep_the_first_file_and_report_the_second(tmp_path: Path) -> None:
    write_plan(tmp_path, "a.toml")
    write_plan(tmp_path, "b.toml")
    entries, errors = load_directory(tmp_path)
    assert [entry.path.name for entry in entries] == ["a.toml"]
    assert len(errors) == 1
    assert (errors[0].path.name, errors[0].line, errors[0].field) == ("b.toml", 1, "id")
    assert "already used by a.toml" in errors[0].message


def test_broken_files_do_not_stop_the_others(tmp_path: Path) -> None:
    write_plan(tmp_path, "good.toml")
    write_plan(tmp_path, "other.toml", VALID_PLAN.replace('"test-walk"', '"other-walk"'))
    write_plan(tmp_path, "bad.toml", "id = [")
    write_plan(tmp_path, "empty.toml", "")
    (tmp_path / ".hidden.toml").write_text("garbage")
    (tmp_path / "notes.txt").write_text("not a plan")
    entries, errors = load_directory(tmp_path)
    assert sorted(entry.plan.id for entry in entries) == ["other-walk", "test-walk"]
    assert {error.path.name for error in errors} == {"bad.toml", "empty.toml"}


def test_missing_folder_is_empty_and_a_file_is_not_a_folder(tmp_path: Path) -> None:
    assert load_directory(tmp_path / "nope") == ([], [])
    path = write_plan(tmp_path, "walk.toml")
    entries, errors = load_directory(path)
    assert entries == [] and errors[0].message == "is not a folder"


def test_plan_error_text_is_one_readable_line() -> None:
    error = PlanError(Path("plans/x.toml"), 12, "tempo.bpm", "must be at most 300", "use 20-300")
    assert str(error) == "plans/x.toml:12: tempo.bpm: must be at most 300 — use 20-300"
    assert str(PlanError(Path("x.toml"), None, None, "unreadable")) == "x.toml: unreadable"


def test_key_lines_follow_tables_dotted_keys_strings_and_arrays() -> None:
    text = """# [not] a table
id = "x" # comment with = sign
steps = [
  "one = two",
  \"\"\"multi
[tempo]
bpm = 3\"\"\",
  'three',
]
"quoted key" = 1
[tempo]
bpm = 84
ramp = { kind = "percent", percent = 5 }
[tempo.deeper]
a.b = 1
[[data]]
kind = "trial"
[[data]]
kind = "rating"
items = [ {x = 1},
  {x = 2} ]
"""
    tomllib.loads(text)
    lines = KeyLines(text)
    expected = {
        ("id",): 2,
        ("steps",): 3,
        ("steps", 0): 4,
        ("steps", 1): 5,
        ("steps", 2): 8,
        ("steps", 3): 3,  # no fourth element: falls back to the key
        ("quoted key",): 10,
        ("tempo",): 11,
        ("tempo", "bpm"): 12,
        ("tempo", "ramp", "percent"): 13,
        ("tempo", "deeper", "a", "b"): 15,
        ("data", 0, "kind"): 17,
        ("data", 1, "kind"): 19,
        ("data", 1, "items", 1, "x"): 21,
        ("data", 1, "label"): 18,  # missing key: the table's header
        ("missing",): None,
    }
    assert {location: lines.line_of(location) for location in expected} == expected


# --- property-based: random damage to valid files -------------------------------------------------

SHIPPED_TEXTS = sorted(path.read_text(encoding="utf-8") for path in SHIPPED_DIR.glob("*.toml"))
TOML_BITS = ['"', "'", "[", "]", "{", "}", "=", ",", "\n", "#", ".", '"""', "\\", "\x00", "é", "1e999"]


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A shipped plan with a few random edits: deletions, insertions, swaps, duplications, byte flips."""
    data = draw(st.sampled_from(SHIPPED_TEXTS)).encode("utf-8")
    for _ in range(draw(st.integers(1, 4))):
        edit = draw(st.sampled_from(["delete", "insert", "flip", "duplicate_line", "swap_lines", "truncate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if edit == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 40)) :]
        elif edit == "insert":
            bit = draw(st.sampled_from(TOML_BITS) | st.text(max_size=8))
            data = data[:at] + bit.encode("utf-8") + data[at:]
        elif edit == "flip" and data:
            data = data[:at] + bytes([data[at] ^ (1 << draw(st.integers(0, 7)))]) + data[at + 1 :]
        elif edit in ("duplicate_line", "swap_lines"):
            lines = data.split(b"\n")
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            if edit == "duplicate_line":
                lines.insert(j, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
        else:
            data = data[:at]
    return data


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(damage=damaged())
def test_random_damage_never_raises_and_never_hides_the_cause(tmp_path: Path, damage: bytes) -> None:
    for old in tmp_path.iterdir():
        old.unlink()
    write_plan(tmp_path, "a-good.toml")
    broken = tmp_path / "b-damaged.toml"
    broken.write_bytes(damage)
    entries, errors = load_directory(tmp_path)
    assert "test-walk" in {entry.plan.id for entry in entries}  # the intact plan always loads
    damaged_loaded = any(entry.path == broken for entry in entries)
    assert damaged_loaded != bool(errors), errors  # either it still loads, or it is reported
    line_count = damage.count(b"\n") + 1
    for error in errors:
        assert error.path == broken
        assert error.message
        assert error.line is None or 1 <= error.line <= line_count
        assert str(error).startswith(str(broken))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _paths(item, (*prefix, key))] + [prefix]
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return [p for i, item in enumerate(value) for p in _paths(item, (*prefix, i))]
    return [prefix]


PLAN_DOCUMENT = tomllib.loads(VALID_PLAN)
LEAF_PATHS = [path for path in _paths(PLAN_DOCUMENT) if path and not isinstance(path[-1], int)]
WRONG_VALUES = st.one_of(
    st.booleans(), st.integers(-1000, 1000), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10), st.lists(st.integers(), max_size=3), st.just({"nested": 1}),
)  # fmt: skip


def _set(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    target = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return changed


def _field(path: tuple[Any, ...]) -> str:
    return "".join(f"[{p + 1}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(path=st.sampled_from(LEAF_PATHS), value=WRONG_VALUES)
def test_a_wrong_value_is_reported_at_its_key(tmp_path: Path, path: tuple[Any, ...], value: Any) -> None:
    text = to_toml(_set(PLAN_DOCUMENT, path, value))
    entry, errors = read_plan(write_plan(tmp_path, "changed.toml", text))
    if entry is not None:
        return  # the random value happens to be valid there (any text is a valid label)
    assert errors
    if len(path) == 1:  # found independently of KeyLines: `"key" = ...`, or `["key"]` for a table value
        key_line = line_of(text, f'["{path[0]}"]' if isinstance(value, dict) else f'"{path[0]}" =')
    else:
        key_line = KeyLines(text).line_of(path)
    field = _field(path)
    on_key = [error for error in errors if error.field and error.field.startswith(field)]
    for error in on_key:
        assert error.field is not None and error.line is not None and key_line is not None
        if error.field.startswith(f"{field}."):  # a key inside a table given as the value
            assert error.line >= key_line, (error, key_line)  # a missing key: the table header
        else:  # the value itself, or an element of a list value (same line in this layout)
            assert error.line == key_line, (error, key_line)
    # otherwise the value broke a rule that involves another key (bpm_min above bpm): still located
    assert on_key or all(error.line is not None for error in errors), errors


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(path=st.sampled_from(LEAF_PATHS), key=st.from_regex(r"[a-z]{3,12}", fullmatch=True))
def test_an_unknown_key_is_reported_on_its_line(tmp_path: Path, path: tuple[Any, ...], key: str) -> None:
    table_path = path[:-1]
    table = PLAN_DOCUMENT
    for part in table_path:
        table = table[part]
    if key in table:
        return
    text = to_toml(_set(PLAN_DOCUMENT, (*table_path, key), 1))
    _, errors = read_plan(write_plan(tmp_path, "extra.toml", text))
    unknown = [error for error in errors if error.message == f"unknown key {key!r}"]
    assert len(unknown) == 1, errors
    assert unknown[0].field == _field((*table_path, key))
    assert unknown[0].line is not None
    assert text.splitlines()[unknown[0].line - 1] == f'"{key}" = 1'


def test_a_plan_nested_two_thousand_deep_is_one_clear_error_not_a_crash(tmp_path: Path) -> None:
    """Found by the hardening audit: a 2,000-level array crashed the CLI and the app (RecursionError)."""
    path = tmp_path / "deep.toml"
    path.write_text("extra = " + "[" * 2000 + "]" * 2000 + "\n" + VALID_PLAN)
    error = only_error(path)
    assert error.path == path and "nested too deeply" in error.message
    assert "remove the deep nesting" in error.fix
    plans, errors = load_directory(tmp_path)  # the rest of the library still loads
    assert plans == [] and len(errors) == 1
