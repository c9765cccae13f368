"""What the "Add a client" and "Add an objective" forms ask, when an answer cannot be taken, and how a
taken answer goes into the record: the rules live here, the dialogs only show the fields and the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from companion.record import Client, MasteryCriterion, Objective, Record
from companion.record.model import Metric


@dataclass(frozen=True)
class NewClient:
    display_name: str
    pseudonym: str | None
    birth_year: int | None
    population: str
    preferred_music: str


@dataclass(frozen=True)
class NewObjective:
    domain: str
    goal: str
    goal_id: int | None
    description: str
    metric: str
    threshold: float
    sessions: int
    at_most: bool


def client_problem(name: str, birth_year: str, this_year: int) -> str:
    """Why the client form cannot be taken as filled in ("" when it can)."""
    if not name:
        return "A client needs a name or pseudonym."
    if birth_year and not 1900 <= int(birth_year) <= this_year:
        return f"Birth year {birth_year} is not plausible: use 1900-{this_year}, or leave it empty."
    return ""


def objective_problem(description: str, new_goal: bool, goal_text: str, threshold: str, sessions: str) -> str:
    """Why the objective form cannot be taken as filled in ("" when it can)."""
    if not description:
        return "Describe what the client will do."
    if new_goal and not goal_text:
        return "Describe the new goal, or choose an existing one."
    if not _is_number(threshold) or not sessions.isdigit() or int(sessions) < 1:
        return "The threshold must be a number and the sessions a whole number of at least 1."
    return ""


def add_client(record: Record, new: NewClient) -> Client:
    return record.caseload.add_client(
        new.display_name,
        birth_year=new.birth_year,
        pseudonym=new.pseudonym,
        population=new.population,
        preferred_music=new.preferred_music,
    )


def add_objective(record: Record, client_id: int, new: NewObjective) -> Objective:
    """The objective with its mastery criterion, under its goal (added first when it is a new one)."""
    criterion = MasteryCriterion(
        cast(Metric, new.metric), new.threshold, new.sessions, "at_most" if new.at_most else "at_least"
    )
    goal_id = new.goal_id
    if goal_id is None:
        goal_id = record.caseload.add_goal(client_id, new.domain, new.goal).id
    return record.caseload.add_objective(goal_id, new.description, criterion)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
