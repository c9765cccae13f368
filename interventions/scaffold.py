"""New user plans: a commented, valid scaffold, or a copy of an existing plan to adapt.

A therapist who wants their own version of a plan should start from something that already loads, so
every file written here validates as it stands; the placeholder texts say what to replace. Files are
created exclusively (never overwriting) with owner-only permissions, like all user data.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from interventions.plan import PACED_TECHNIQUES
from interventions.vocabulary import Approach, Format, GoalDomain, Place, Technique

DIR_MODE = 0o700
FILE_MODE = 0o600
_ID_LINE = re.compile(r'^id\s*=\s*(["\']).*?\1', re.MULTILINE)


def slug(text: str) -> str:
    """A plan id made from a title: "Drum & Sing (group)" -> "drum-sing-group"."""
    return "-".join(re.findall(r"[a-z0-9]+", text.casefold()))[:64].strip("-")


def _toml(value: object) -> str:
    """A TOML value; JSON's string and list syntax is valid TOML for the plain values used here."""
    return json.dumps(value, ensure_ascii=False)


def scaffold(
    plan_id: str,
    title: str,
    domains: Sequence[GoalDomain],
    *,
    approach: Approach = Approach.BEHAVIOURAL,
    technique: Technique | None = None,
    populations: Sequence[str] = ("adults",),
    age_min: int = 0,
    age_max: int = 120,
    formats: Sequence[Format] = (Format.INDIVIDUAL,),
    settings: Sequence[Place] = (Place.CLINIC,),
    bpm: float | None = None,
) -> str:
    """The text of a new plan file with the given facts and placeholder content to replace."""
    if technique is not None:
        approach = Approach.NMT
    if bpm is None and technique in PACED_TECHNIQUES:
        bpm = 80
    lines = [
        "# A plan of your own. Replace every sentence that starts with 'Describe' or 'List',",
        "# then check it with:  companion plans validate",
        "# Field reference: docs/library.md, section 'A plan file'.",
        f"id = {_toml(plan_id)}",
        f"title = {_toml(title)}",
        'summary = "Describe what the client does and why it helps, in two or three sentences."',
        f"domains = {_toml([str(d) for d in domains])}",
        "objectives = [",
        '    "{client} will describe the target behaviour here, in {criterion}.",',
        "]",
        f"populations = {_toml(list(populations))}",
        f"age_min = {age_min}",
        f"age_max = {age_max}",
        f"approach = {_toml(str(approach))}",
    ]
    if technique is not None:
        lines.append(f"technique = {_toml(str(technique))}")
    lines += [
        'methods = ["singing"]  # singing, instrument-playing, listening, movement, songwriting, ...',
        'materials = ["List the instruments and materials you need."]',
        f"formats = {_toml([str(f) for f in formats])}",
        f"settings = {_toml([str(s) for s in settings])}",
        "steps = [",
        '    "Describe how you set up and introduce the activity.",',
        '    "Describe the main activity, step by step.",',
        '    "Describe how the activity ends and what you record.",',
        "]",
        'precautions = ["List what to watch for and how to keep the client safe."]',
        "",
        "[adaptations]",
        'easier = ["List ways to make it easier."]',
        'harder = ["List ways to make it harder."]',
    ]
    if bpm is not None:
        lines += [
            "",
            "[tempo]  # what the metronome loads for this plan",
            f"bpm = {bpm:g}",
            'meter = "4/4"',
            "subdivision = 1",
            'cue = "click"  # or "preferred-song", or a groove: march, waltz, rock, shuffle68, lullaby',
        ]
    lines += [
        "",
        "[[data]]  # one block per quick tap: trial, count, duration, latency, rating, note, cadence, sync",
        'kind = "trial"',
        'label = "Correct response"',
    ]
    return "\n".join(lines) + "\n"


def with_id(source: str, plan_id: str) -> str:
    """A copy of an existing plan file's text under a new id, keeping its comments and layout."""
    text, count = _ID_LINE.subn(f"id = {_toml(plan_id)}", source, count=1)
    if count == 0:
        raise ValueError("the source plan has no top-level `id = ...` line to replace")
    return text


def write_new(directory: Path, plan_id: str, text: str) -> Path:
    """Create `directory/<plan_id>.toml` (folder 0700, file 0600); FileExistsError if it already exists."""
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    path = directory / f"{plan_id}.toml"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    return path
