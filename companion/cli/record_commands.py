"""CLI commands over the session record: clients, goals, sessions and the demo practice.

Each opens the record with `record_access.open_record` (storage problems become one clear line). Exports
and reports are in `export_commands`, backups in `backup_commands`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import cast

import click

from companion.cli.record_access import open_record, parse_day, safe
from companion.demo.generate import generate_demo
from companion.demo.practice import CLIENTS as DEMO_CLIENTS
from companion.demo.practice import GROUPS as DEMO_GROUPS
from companion.documents.wording import plan_label, progress_sentence
from companion.record import MasteryCriterion
from companion.record.model import DOMAINS, METRICS, PHASES, SUMMARIES, Metric, Summary, goal_domain


# -- clients ---------------------------------------------------------------------------------------------
@click.group()
def clients() -> None:
    """Add, list and show clients."""


@clients.command("add")
@click.argument("name")
@click.option("--birth-year", type=int, help="Optional; never included in de-identified exports.")
@click.option("--pseudonym", help="Name used in de-identified exports.")
@click.option("--population", default="", help="e.g. 'autism, age 7' or 'post-stroke gait'.")
@click.option("--music", "preferred_music", default="", help="Preferred music, free text.")
@click.option("--song", "songs", multiple=True, type=click.Path(path_type=Path), help="Preferred MIDI file.")
@click.pass_context
def clients_add(
    ctx: click.Context,
    name: str,
    birth_year: int | None,
    pseudonym: str | None,
    population: str,
    preferred_music: str,
    songs: tuple[Path, ...],
) -> None:
    """Add a client NAME (a display name or pseudonym)."""
    with open_record(ctx) as record:
        client = record.caseload.add_client(
            name,
            birth_year=birth_year,
            pseudonym=pseudonym,
            population=population,
            preferred_music=preferred_music,
            preferred_songs=[str(song.expanduser().resolve()) for song in songs],
        )
    click.echo(f"Added client {client.id}: {client.display_name}")


@clients.command("list")
@click.option("--all", "include_archived", is_flag=True, help="Include archived clients.")
@click.pass_context
def clients_list(ctx: click.Context, include_archived: bool) -> None:
    """List clients with their number of sessions."""
    with open_record(ctx) as record:
        rows = [(c, len(record.sessions.sessions(c.id))) for c in record.caseload.clients(include_archived)]
    if not rows:
        click.echo("No clients yet. Add one with `companion clients add NAME` or try `companion demo-data`.")
    for client, sessions in rows:
        extra = f" - {client.population}" if client.population else ""
        click.echo(safe(f"{client.id:>4}  {client.display_name}{extra} ({sessions} sessions)"))


@clients.command("show")
@click.argument("client")
@click.pass_context
def clients_show(ctx: click.Context, client: str) -> None:
    """Show CLIENT (id or name): details, goals, objectives with progress, recent sessions."""
    with open_record(ctx) as record:
        found = record.caseload.find_client(client)
        click.echo(safe(f"{found.display_name} (id {found.id})"))
        for label, value in [
            ("Pseudonym", found.pseudonym),
            ("Birth year", found.birth_year),
            ("Population", found.population),
            ("Preferred music", found.preferred_music),
            ("Preferred songs", ", ".join(found.preferred_songs)),
            ("Prompt hierarchy", " > ".join(record.caseload.prompt_hierarchy(found.id))),
        ]:
            if value:
                click.echo(safe(f"  {label}: {value}"))
        progress = {p.objective.id: p for p in record.progress.client_progress(found.id)}
        for goal in record.caseload.goals(found.id):
            click.echo(safe(f"\nGoal {goal.id} [{goal.domain}]: {goal.description}"))
            for objective in record.caseload.objectives(goal_id=goal.id):
                click.echo(safe(f"  Objective {objective.id}: {objective.description}"))
                click.echo(f"    criterion: {objective.criterion.describe()}")
                click.echo(f"    progress: {progress_sentence(progress[objective.id])}")
        recent = record.sessions.sessions(found.id)[-5:]
        if recent:
            click.echo("\nRecent sessions:")
        for session in recent:
            plans = ", ".join(plan_label(p) for p in session.plan_ids)
            click.echo(safe(f"  {session.id:>5}  {session.date}  {session.setting}  {plans}"))


# -- goals -----------------------------------------------------------------------------------------------
def _goal_domain(value: str) -> str:
    try:
        return goal_domain(value)
    except ValueError as problem:
        raise click.BadParameter(str(problem)) from None


@click.group()
def goals() -> None:
    """Add and list goals and their measurable objectives."""


@goals.command("add")
@click.argument("client")
@click.argument("description")
@click.option(
    "--domain",
    default="other",
    show_default=True,
    callback=lambda _ctx, _param, value: _goal_domain(value),
    help="One of: " + ", ".join(DOMAINS) + ' (quote names with spaces: "gross motor").',
)
@click.pass_context
def goals_add(ctx: click.Context, client: str, description: str, domain: str) -> None:
    """Add a goal for CLIENT (id or name)."""
    with open_record(ctx) as record:
        goal = record.caseload.add_goal(record.caseload.find_client(client).id, domain, description)
    click.echo(f"Added goal {goal.id}: {goal.description}")


@goals.command("add-objective")
@click.argument("goal_id", type=int)
@click.argument("description")
@click.option("--metric", type=click.Choice(METRICS), default="percent_independent", show_default=True)
@click.option("--threshold", type=float, default=80.0, show_default=True)
@click.option(
    "--sessions", "consecutive", type=int, default=3, show_default=True, help="Consecutive sessions."
)
@click.option("--at-most", is_flag=True, help="Lower is better (e.g. pain rating, latency).")
@click.option(
    "--min-opportunities",
    type=click.IntRange(min=1),
    help="Trials (hits, measurements) a session needs to count toward mastery [default: 10 for percentages].",
)
@click.option(
    "--prompt-levels", help='Its own prompt hierarchy, most independent first: "independent,verbal,..."'
)
@click.option(
    "--summary",
    type=click.Choice(SUMMARIES),
    help="How a session's several durations or measures make its value: sum, best (--at-most: the least), "
    "first, last, mean (a 10 m walk timed three times), change (after minus before) "
    "[default: sum for durations, last for measures].",
)
@click.pass_context
def goals_add_objective(
    ctx: click.Context,
    goal_id: int,
    description: str,
    metric: str,
    threshold: float,
    consecutive: int,
    at_most: bool,
    min_opportunities: int | None,
    prompt_levels: str | None,
    summary: str | None,
) -> None:
    """Add a measurable objective under GOAL_ID with its mastery criterion."""
    try:
        criterion = MasteryCriterion(
            cast(Metric, metric),
            threshold,
            consecutive,
            "at_most" if at_most else "at_least",
            min_opportunities,
            cast(Summary | None, summary),
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    levels = [level.strip() for level in prompt_levels.split(",")] if prompt_levels else []
    with open_record(ctx) as record:
        objective = record.caseload.add_objective(goal_id, description, criterion, prompt_levels=levels)
    click.echo(f"Added objective {objective.id}: {objective.description} ({criterion.describe()})")


@goals.command("phase")
@click.argument("objective_id", type=int)
@click.argument("phase", type=click.Choice(PHASES))
@click.option("--since", help="First session date in this phase (YYYY-MM-DD) [default: today].")
@click.pass_context
def goals_phase(ctx: click.Context, objective_id: int, phase: str, since: str | None) -> None:
    """Put OBJECTIVE_ID in a phase: baseline (before teaching; never counts toward mastery), intervention,
    probe, maintenance (after mastery) or generalisation. Charts draw a line at each change."""
    day = parse_day(since) or date.today()
    with open_record(ctx) as record:
        record.caseload.set_phase(objective_id, phase, day)
        objective = record.caseload.objective(objective_id)
    click.echo(f"Objective {objective_id} ({objective.description}) is in {phase} from {day.isoformat()}.")


@goals.command("list")
@click.argument("client")
@click.pass_context
def goals_list(ctx: click.Context, client: str) -> None:
    """List the goals and objectives of CLIENT."""
    with open_record(ctx) as record:
        found = record.caseload.find_client(client)
        for goal in record.caseload.goals(found.id):
            click.echo(f"{goal.id:>4}  [{goal.domain}] {goal.description}")
            for objective in record.caseload.objectives(goal_id=goal.id):
                click.echo(
                    f"      {objective.id:>4}  {objective.description} - {objective.criterion.describe()}"
                )


# -- sessions --------------------------------------------------------------------------------------------
@click.group()
def sessions() -> None:
    """Review past sessions."""


@sessions.command("list")
@click.option("--client", help="Only this client's sessions (id or name).")
@click.option("--from", "start", help="First date (YYYY-MM-DD).")
@click.option("--to", "end", help="Last date (YYYY-MM-DD).")
@click.pass_context
def sessions_list(ctx: click.Context, client: str | None, start: str | None, end: str | None) -> None:
    """List sessions, oldest first."""
    with open_record(ctx) as record:
        client_id = record.caseload.find_client(client).id if client else None
        names = {c.id: c.display_name for c in record.caseload.clients(include_archived=True)}
        found = record.sessions.sessions(client_id, parse_day(start), parse_day(end))
        for session in found:
            who = ", ".join(names[c] for c in session.client_ids)
            minutes = (
                f"{session.duration_minutes:.0f} min" if session.duration_minutes is not None else "open"
            )
            events = len(record.events.session_events(session.id))
            click.echo(
                safe(f"{session.id:>5}  {session.date}  {who}  {session.setting}  {minutes}  {events} events")
            )
    if not found:
        click.echo("No sessions match.")


# -- demo data -------------------------------------------------------------------------------------
def demo_help() -> str:
    """What `demo-data` makes, counted from the demo practice itself, so the help cannot fall behind it."""
    members = sum(len(group.members) for group in DEMO_GROUPS)
    groups = f"{len(DEMO_GROUPS)} group" + ("s" if len(DEMO_GROUPS) != 1 else "")
    return (
        f"Create a realistic demo practice: {len(DEMO_CLIENTS) + members} clients "
        f"({len(DEMO_CLIENTS)} seen one to one, {members} in {groups}), months of sessions, notes."
    )


@click.command("demo-data", help=demo_help())
@click.option("--if-empty", is_flag=True, help="Do nothing if the record already has clients.")
@click.option("--seed", type=int, default=2024, show_default=True)
@click.pass_context
def demo_data(ctx: click.Context, if_empty: bool, seed: int) -> None:
    with open_record(ctx) as record:
        if record.caseload.clients(include_archived=True):
            if if_empty:
                click.echo(f"{record.path} already has clients; demo data not added.")
                return
            raise click.ClickException(
                f"{record.path} already has clients. Use an empty folder (--data-dir) for the demo practice."
            )
        created = generate_demo(record, seed=seed)
        clients = len(record.caseload.clients())
        click.echo(f"Demo practice created in {record.path}: {clients} clients, {created} sessions.")


COMMANDS = (clients, goals, sessions, demo_data)


def register(group: click.Group) -> None:
    """Add the clients, goals, sessions and demo-data commands to the main `companion` group."""
    for command in COMMANDS:
        group.add_command(command)
