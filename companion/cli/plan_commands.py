"""`companion plans ...`: browse, search, check and create intervention plans from the terminal.

The commands are thin: loading, filtering, searching, suggesting and scaffolding live in `interventions`;
this module only turns arguments into calls (and `plan_text` turns plans into readable text).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from difflib import get_close_matches
from enum import StrEnum
from pathlib import Path
from typing import TypeVar

import click

from audio.tempo import MAX_BPM, MIN_BPM
from companion.cli.plan_text import plan_table, render_plan, terminal_width
from companion.cli.record_access import checked_data_dir
from companion.paths import plans_dir
from interventions import GoalDomain, Library, PlanError, read_plan
from interventions.loader import load_directory
from interventions.plan import PLAN_ID
from interventions.scaffold import scaffold, slug, with_id, write_new
from interventions.suggest import GoalWords
from interventions.vocabulary import Approach, Format, Place, Technique, lookup, unknown_choice

E = TypeVar("E", bound=StrEnum)
_USER_DIR = "companion.plans.user_dir"


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
    click.echo(plan_table(found, library))
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
    click.echo(render_plan(plan, library.path_of(plan_id), library.is_override(plan_id), terminal_width()))


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
    click.echo(plan_table(found, library))


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
    width = terminal_width()
    for rank, suggestion in enumerate(found, start=1):
        plan = suggestion.plan
        click.echo(
            click.style(f"{rank}. {plan.title}", bold=True) + f"  [{plan.id}]  score {suggestion.score:g}"
        )
        for reason in suggestion.reasons:
            click.echo(textwrap.fill(reason, width, initial_indent="   - ", subsequent_indent="     "))


def parse_goal(text: str) -> GoalWords:
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
