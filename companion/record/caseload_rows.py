"""Rows of the caseload's tables as model objects (what `record.caseload` reads returns)."""

from __future__ import annotations

import json

from companion.record.connection import Row
from companion.record.model import Client, Goal, MasteryCriterion, Objective


def client_from_row(row: Row) -> Client:
    return Client(
        id=row["id"],
        display_name=row["display_name"],
        birth_year=row["birth_year"],
        pseudonym=row["pseudonym"],
        population=row["population"],
        preferred_music=row["preferred_music"],
        preferred_songs=tuple(json.loads(row["preferred_songs"])),
        settings=json.loads(row["settings"]),
        created_at=row["created_at"],
        archived=bool(row["archived"]),
        diagnoses=tuple(json.loads(row["diagnoses"])),
        owner_id=row["owner_id"],
    )


def goal_from_row(row: Row) -> Goal:
    return Goal(
        id=row["id"],
        client_id=row["client_id"],
        domain=row["domain"],
        description=row["description"],
        created_at=row["created_at"],
        archived=bool(row["archived"]),
    )


def objective_from_row(row: Row) -> Objective:
    return Objective(
        id=row["id"],
        goal_id=row["goal_id"],
        client_id=row["client_id"],
        description=row["description"],
        criterion=MasteryCriterion(**json.loads(row["criterion"])),
        target=row["target"],
        created_at=row["created_at"],
        archived=bool(row["archived"]),
        prompt_levels=tuple(json.loads(row["prompt_levels"])),
    )
