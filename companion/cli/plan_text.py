"""Plans as terminal text: the aligned table `plans list` and `plans search` print, and a whole plan as
`plans show` prints it, wrapped to the terminal's width."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

import click

from interventions import Library, Plan
from interventions.data_taps import DataKind, DataTap

MAX_WIDTH = 100


def terminal_width() -> int:
    return min(shutil.get_terminal_size((MAX_WIDTH, 24)).columns, MAX_WIDTH)


def kind_label(plan: Plan) -> str:
    return str(plan.technique) if plan.technique is not None else str(plan.approach)


def plan_table(plans: Sequence[Plan], library: Library) -> str:
    """One aligned line per plan: id, title, technique or approach, ages, domains; '*' marks user plans."""
    columns = [
        [
            ("*" if library.is_user_plan(plan.id) else " ") + plan.id,
            plan.title if len(plan.title) <= 40 else plan.title[:39] + "…",
            kind_label(plan),
            plan.age_label,
        ]
        for plan in plans
    ]
    widths = [max(len(row[i]) for row in columns) + 2 for i in range(4)]
    return "\n".join(
        "".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        + ", ".join(map(str, plan.domains))
        for row, plan in zip(columns, plans, strict=True)
    )


def render_plan(plan: Plan, path: Path | None, overrides: bool, width: int) -> str:
    """The full plan as terminal text, wrapped to `width`."""
    out: list[str] = [click.style(plan.title, bold=True) + f"  [{plan.id}]"]
    out += textwrap.wrap(plan.summary, width)

    def facts(label: str, value: str) -> None:
        out.extend(textwrap.wrap(value, width, initial_indent=f"{label:<13}", subsequent_indent=" " * 13))

    out.append("")
    facts("Domains", ", ".join(map(str, plan.domains)))
    facts("Approach", plan.approach_label)
    facts("Methods", ", ".join(map(str, plan.methods)))
    facts("For", "; ".join(plan.populations))
    facts("Ages", plan.age_label)
    facts("Format", ", ".join(map(str, plan.formats)))
    facts("Settings", ", ".join(map(str, plan.settings)))
    if plan.tempo is not None:
        facts("Tempo", plan.tempo.summary())

    def section(title: str, items: Iterable[str], numbered: bool = False) -> None:
        out.extend(["", click.style(title, bold=True)])
        for number, item in enumerate(items, start=1):
            mark = f"  {number}. " if numbered else "  - "
            out.extend(textwrap.wrap(item, width, initial_indent=mark, subsequent_indent=" " * len(mark)))

    section("Objectives", plan.objectives)
    section("Materials", plan.materials)
    section("Steps", plan.steps, numbered=True)
    section("Easier", plan.adaptations.easier)
    section("Harder", plan.adaptations.harder)
    section("Precautions", plan.precautions)
    if plan.contraindications:
        section("Contraindications", plan.contraindications)
    section("Data", [describe_tap(tap) for tap in plan.data])
    if path is not None:
        origin = " (your plan, replacing the shipped one)" if overrides else ""
        out.extend(["", f"File: {path}{origin}"])
    return "\n".join(out)


def describe_tap(tap: DataTap) -> str:
    """ "trial: Steps in time (independent > gestural > ...)", "rating: Pain 0-10, before/after"."""
    text = f"{tap.kind}: {tap.label}"
    if tap.kind is DataKind.TRIAL and tap.prompt_levels:
        text += f" (prompts: {' > '.join(tap.prompt_levels)})"
    if tap.kind is DataKind.RATING:
        text += f", scale {tap.scale_min}-{tap.scale_max}"
    if tap.when != ["during"]:
        text += f", {'/'.join(tap.when)}"
    return text
