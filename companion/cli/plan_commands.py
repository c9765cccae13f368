"""`companion plans ...`: browse, search, check and create intervention plans from the terminal.

The commands are thin: loading, filtering, searching, suggesting and scaffolding live in `interventions`;
this module only turns arguments into calls and plans into readable text.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterable, Sequence
from difflib import get_close_matches
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import click

from audio.tempo import MAX_BPM, MIN_BPM
from companion.cli.record_access import checked_data_dir
from companion.paths import plans_dir
from interventions import GoalDomain, Library, Plan, PlanError, read_plan
from interventions.data_taps import DataKind, DataTap
from interventions.loader import load_directory
from interventions.plan import PLAN_ID
from interventions.scaffold import scaffold, slug, with_id, write_new
from interventions.suggest import Goal
from interventions.vocabulary import Approach, Format, Place, Technique, lookup, unknown_choice

E = TypeVar("E", bound=StrEnum)
_USER_DIR = "companion.plans.user_dir"
MAX_WIDTH = 100


def plans_user_dir(explicit: Path | None, data_dir_override: Path | None) -> Path:
    """Where user plans live: `--user-dir`, else `<data dir>/plans` (the same data dir the session record
    uses: `--data-dir`, then COMPANION_DATA_DIR, then the platform default)."""
    if explicit is not None:
        return explicit
    return plans_dir(checked_data_dir(data_dir_override))


@click.group("plans")
@click.option(
    "--user-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of your own plans (default: <data dir>/plans).",
)
@click.pass_context
def plans(ctx: click.Context, user_dir: Path | None) -> None:
    """Browse, search, check and create intervention plans."""
    data_dir = ctx.find_root().params.get("data_dir")
    ctx.meta[_USER_DIR] = plans_user_dir(user_dir, Path(data_dir) if data_dir else None)


def _user_dir() -> Path:
    return Path(click.get_current_context().meta[_USER_DIR])


def _load() -> Library:
    library = Library.load(_user_dir())
    if library.errors:
        count = len({error.path for error in library.errors})
        click.secho(
            f"note: {count} plan file(s) could not be loaded; run `companion plans validate` for details",
            err=True,
            fg="yellow",
        )
    return library


def _width() -> int:
    return min(shutil.get_terminal_size((MAX_WIDTH, 24)).columns, MAX_WIDTH)


def _kind_label(plan: Plan) -> str:
    return str(plan.technique) if plan.technique is not None else str(plan.approach)


def _table(plans: Sequence[Plan], library: Library) -> str:
    """One aligned line per plan: id, title, technique or approach, ages, domains; '*' marks user plans."""
    columns = [
        [
            ("*" if library.is_user_plan(plan.id) else " ") + plan.id,
            plan.title if len(plan.title) <= 40 else plan.title[:39] + "…",
            _kind_label(plan),
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


@plans.command("list")
@click.option("--domain", help='Goal domain, e.g. "motor", "communication", "emotional".')
@click.option("--technique", help='NMT code, method or approach, e.g. "RAS", "songwriting", "GIM".')
@click.option("--population", help='Who it is for, e.g. "autism", "stroke", "older adults".')
@click.option("--age", type=click.IntRange(0, 120), help="The client's age in years.")
@click.option("--setting", help='"individual", "group", "in-home", "school", "virtual", ...')
def list_plans(
    domain: str | None, technique: str | None, population: str | None, age: int | None, setting: str | None
) -> None:
    """List plans, optionally filtered. User plans are marked with *."""
    library = _load()
    try:
        found = library.filter(
            domain=domain, technique=technique, population=population, age=age, setting=setting
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if not found:
        click.echo("No plans match those filters.")
        return
    click.echo(_table(found, library))
    click.echo(f"\n{len(found)} of {len(library.plans)} plans")


@plans.command("show")
@click.argument("plan_id")
def show(plan_id: str) -> None:
    """Print a whole plan: steps, adaptations, precautions, tempo preset and data taps."""
    library = _load()
    plan = library.get(plan_id)
    if plan is None:
        close = get_close_matches(plan_id, [p.id for p in library.plans], n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else " See `companion plans list`."
        raise click.ClickException(f"no plan with id {plan_id!r}.{hint}")
    click.echo(render_plan(plan, library.path_of(plan_id), library.is_override(plan_id), _width()))


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


@plans.command("search")
@click.argument("words", nargs=-1, required=True)
def search(words: tuple[str, ...]) -> None:
    """Full-text search, best match first."""
    library = _load()
    text = " ".join(words)
    found = library.search(text)
    if not found:
        click.echo(f"No plans mention {text!r}.")
        return
    click.echo(_table(found, library))


@plans.command("suggest")
@click.argument("goals", nargs=-1, required=True)
@click.option(
    "--age",
    type=click.IntRange(0, 120),
    help="The client's age: plans for it, then those a little outside their usual range (flagged).",
)
@click.option("--population", help='Favour plans for this population, e.g. "autism".')
@click.option("--setting", help="Only plans that work in this format or place.")
@click.option("--limit", type=click.IntRange(1, 100), default=5, show_default=True)
def suggest(
    goals: tuple[str, ...], age: int | None, population: str | None, setting: str | None, limit: int
) -> None:
    """Rank plans for a client's goals and say why. Prefix a goal with its domain to be explicit:

    companion plans suggest "motor: walk 10 m with a steady cadence" "request items with AAC"
    """
    library = _load()
    try:
        found = library.suggest(
            [parse_goal(goal) for goal in goals], age=age, population=population, setting=setting, limit=limit
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if not found:
        click.echo("No plan matches those goals; try other words or `companion plans list --domain ...`.")
        return
    width = _width()
    for rank, suggestion in enumerate(found, start=1):
        plan = suggestion.plan
        click.echo(
            click.style(f"{rank}. {plan.title}", bold=True) + f"  [{plan.id}]  score {suggestion.score:g}"
        )
        for reason in suggestion.reasons:
            click.echo(textwrap.fill(reason, width, initial_indent="   - ", subsequent_indent="     "))


def parse_goal(text: str) -> Goal:
    """ "motor: walk 10 m" -> ("motor", "walk 10 m") when the prefix names a domain; else the text."""
    prefix, separator, rest = text.partition(":")
    if separator and rest.strip():
        try:
            GoalDomain.parse(prefix)
        except ValueError:
            return text
        return (prefix, rest.strip())
    return text


@plans.command("validate")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
def validate(path: Path | None) -> None:
    """Check plan files and report every problem; exits 1 if there are any.

    PATH may be a plan file or a folder of plans; without it the whole library is checked (the shipped
    plans and your own).
    """
    if path is None:
        library = Library.load(_user_dir())
        count, errors = len(library.plans), library.errors
    elif path.is_dir():
        entries, errors = load_directory(path)
        count = len(entries)
    else:
        entry, errors = read_plan(path)
        count = 0 if entry is None else 1
    _report(count, errors)


def _report(count: int, errors: Sequence[PlanError]) -> None:
    for error in errors:
        click.secho(str(error), err=True, fg="red")
    files = len({error.path for error in errors})
    summary = f"{count} plan(s) valid"
    if errors:
        summary += f"; {len(errors)} problem(s) in {files} file(s)"
    click.echo(summary)
    if errors:
        raise SystemExit(1)


def _choose(values: Iterable[str], vocabulary: type[E]) -> list[E]:
    chosen = []
    for value in values:
        found = lookup(vocabulary, value)
        if found is None:
            raise click.UsageError(unknown_choice(vocabulary.__name__.lower(), value, list(vocabulary)))
        chosen.append(found)
    return chosen


def _ask_populations(interactive: bool) -> list[str]:
    if not interactive:
        return ["adults"]
    return _split(click.prompt("Who is it for (comma-separated)", default="adults"))


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@plans.command("new")
@click.option("--title", help="Short title of the plan.")
@click.option("--id", "plan_id", help="Plan id (default: made from the title).")
@click.option("--domain", "domains", multiple=True, help="Goal domain (repeatable).")
@click.option("--technique", help="NMT technique code, e.g. RAS (makes the approach NMT).")
@click.option("--approach", help="behavioural, humanistic, Nordoff-Robbins, GIM, ...")
@click.option("--population", "populations", multiple=True, help="Who it is for (repeatable).")
@click.option("--age-min", type=click.IntRange(0, 120), default=0, show_default=True)
@click.option("--age-max", type=click.IntRange(0, 120), default=120, show_default=True)
@click.option("--format", "formats", multiple=True, help="individual and/or group (repeatable).")
@click.option("--setting", "settings", multiple=True, help="in-home, school, clinic, ... (repeatable).")
@click.option(
    "--bpm", type=click.FloatRange(MIN_BPM, MAX_BPM), help="Add a tempo preset starting at this tempo."
)
@click.option("--from", "source_id", help="Start from a copy of this plan (same id = your own version).")
def new(
    title: str | None,
    plan_id: str | None,
    domains: tuple[str, ...],
    technique: str | None,
    approach: str | None,
    populations: tuple[str, ...],
    age_min: int,
    age_max: int,
    formats: tuple[str, ...],
    settings: tuple[str, ...],
    bpm: float | None,
    source_id: str | None,
) -> None:
    """Create a plan in your plans folder; never overwrites a file.

    Without --title it asks for each detail; with options it asks only for missing goal domains.

    With --from, copies an existing plan so you can adapt it: keep its id to replace it with your
    version, or give a new --id to add a variant.
    """
    directory = _user_dir()
    if source_id is not None:
        text, plan_id = _copy_of(source_id, plan_id)
    else:
        text, plan_id = _fresh(
            title,
            plan_id,
            domains,
            technique,
            approach,
            populations,
            age_min,
            age_max,
            formats,
            settings,
            bpm,
        )
    try:
        path = write_new(directory, plan_id, text)
    except FileExistsError:
        raise click.ClickException(
            f"{directory / (plan_id + '.toml')} already exists; edit it, or choose another --id"
        ) from None
    except OSError as exc:
        raise click.ClickException(
            f"cannot write to {directory} ({exc.strerror}); check the folder's permissions or use --user-dir"
        ) from None
    click.echo(f"Created {path}")
    entry, errors = read_plan(path)
    _report(0 if entry is None else 1, errors)
    click.echo("Edit the file, then run `companion plans validate` to check it.")


def _copy_of(source_id: str, plan_id: str | None) -> tuple[str, str]:
    library = Library.load(_user_dir())
    source = library.path_of(source_id)
    if source is None:
        raise click.ClickException(f"no plan with id {source_id!r} to copy; see `companion plans list`")
    text = source.read_text(encoding="utf-8")
    if plan_id is None or plan_id == source_id:
        return text, source_id
    return with_id(text, plan_id), plan_id


def _fresh(
    title: str | None,
    plan_id: str | None,
    domains: tuple[str, ...],
    technique: str | None,
    approach: str | None,
    populations: tuple[str, ...],
    age_min: int,
    age_max: int,
    formats: tuple[str, ...],
    settings: tuple[str, ...],
    bpm: float | None,
) -> tuple[str, str]:
    interactive = title is None  # asked for the title, so ask for the rest too instead of defaulting
    title = title or click.prompt("Title")
    plan_id = plan_id or (click.prompt("Id", default=slug(title)) if interactive else slug(title))
    if not PLAN_ID.match(plan_id):
        raise click.UsageError(f"id {plan_id!r} must be lower-case letters, digits and single hyphens")
    domain_names = list(domains) or _split(click.prompt("Goal domains (comma-separated)"))
    chosen_domains: list[GoalDomain] = []
    try:
        for name in domain_names:
            chosen_domains += sorted(GoalDomain.parse(name) - set(chosen_domains))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    code = lookup(Technique, technique) if technique else None
    if technique and code is None:
        raise click.UsageError(unknown_choice("technique", technique, list(Technique)))
    style = lookup(Approach, approach) if approach else Approach.BEHAVIOURAL
    if style is None:
        raise click.UsageError(unknown_choice("approach", approach or "", list(Approach)))
    text = scaffold(
        plan_id,
        title,
        chosen_domains,
        approach=style,
        technique=code,
        populations=list(populations) or _ask_populations(interactive),
        age_min=age_min,
        age_max=age_max,
        formats=_choose(formats or ["individual"], Format),
        settings=_choose(settings or ["clinic"], Place),
        bpm=bpm,
    )
    return text, plan_id
