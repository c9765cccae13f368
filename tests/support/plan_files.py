"""A complete valid plan and a tiny TOML writer, shared by the plan tests.

The writer exists so tests can change one value of a real plan (wrong type, out of range, unknown key)
and still produce a syntactically valid file whose layout is known, to check the reported line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VALID_PLAN = """\
id = "test-walk"
title = "Test walk"
summary = "Walk to a steady beat so that cadence becomes regular."
domains = ["gross motor"]
objectives = ["{client} will walk at {bpm} bpm in {criterion}."]
populations = ["older adults", "stroke"]
age_min = 40
age_max = 100
approach = "NMT"
technique = "RAS"
methods = ["movement"]
materials = ["metronome", "gait belt"]
formats = ["individual"]
settings = ["clinic"]
steps = [
    "Measure baseline cadence.",
    "Walk with the cue at baseline.",
    "Raise the tempo by 5%.",
]
precautions = ["Fall risk: gait belt and spotter."]

[adaptations]
easier = ["Slower tempo."]
harder = ["Faster tempo."]

[tempo]
bpm = 84
bpm_min = 60
bpm_max = 100
meter = "4/4"
subdivision = 1
accents = ["accent", "beat", "beat", "beat"]
swing = 0.0
count_in_bars = 1
cue = "click"

[tempo.ramp]
kind = "percent"
percent = 5
every_bars = 8
max_bpm = 100

[[data]]
kind = "trial"
label = "Steps in time with the beat"

[[data]]
kind = "rating"
label = "Pain (0-10)"
scale_min = 0
scale_max = 10
when = ["before", "after"]
"""


def write_plan(directory: Path, name: str, text: str = VALID_PLAN) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items()) + " }"
    return repr(value)


def to_toml(document: dict[str, Any], prefix: str = "") -> str:
    """TOML for a plan-shaped dict: scalars and lists first, then sub-tables, then arrays of tables."""
    lines: list[str] = []
    tables: list[str] = []
    for key, value in document.items():
        name = json.dumps(key)
        if isinstance(value, dict):
            tables.append(f"\n[{prefix}{name}]\n" + to_toml(value, f"{prefix}{name}."))
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            for item in value:
                tables.append(f"\n[[{prefix}{name}]]\n" + to_toml(item, f"{prefix}{name}."))
        else:
            lines.append(f"{name} = {_value(value)}")
    return "\n".join(lines) + "\n" + "".join(tables)
