"""Clients, their goals and measurable objectives, and the prompt hierarchy used to score trials.

Nothing here is ever deleted: clients, goals and objectives are archived, because events and past notes
keep pointing at them and the documentation a therapist owes must stay reproducible.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import date
from typing import Any

from companion.record.access import Access
from companion.record.cache import RecordCache
from companion.record.caseload_rows import client_from_row, goal_from_row, objective_from_row
from companion.record.clock import iso, utc_now
from companion.record.database import Database
from companion.record.errors import UnknownRecord
from companion.record.model import (
    DEFAULT_PROMPT_HIERARCHY,
    PHASES,
    Client,
    Goal,
    MasteryCriterion,
    Objective,
    ObjectivePhase,
    goal_domain,
)

HIERARCHY_KEY = "prompt_hierarchy"
ICD10 = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$")
"""An ICD-10-CM code: a letter (not U), a digit, a digit or A/B, then up to four characters after a dot."""


def icd10_code(text: str) -> str:
    """The code upper-cased, or ValueError saying what one looks like."""
    code = text.strip().upper()
    if not ICD10.match(code):
        raise ValueError(f"{text.strip()!r} is not an ICD-10-CM code: e.g. I69.351 or F84.0")
    return code


def validate_hierarchy(levels: Sequence[str]) -> tuple[str, ...]:
    cleaned = tuple(level.strip() for level in levels)
    if len(cleaned) < 2 or any(not level for level in cleaned) or len(set(cleaned)) != len(cleaned):
        raise ValueError("a prompt hierarchy needs at least two distinct, non-empty levels")
    return cleaned


def editable(changes: dict[str, Any]) -> dict[str, Any]:
    """Refuse changes to identity fields: an update must never re-point a record (a client's owner
    changes through `Sharing.assign`, which checks who may)."""
    fixed = {"id", "created_at", "client_id", "goal_id", "owner_id"} & changes.keys()
    if fixed:
        raise ValueError(f"cannot change {', '.join(sorted(fixed))}")
    return changes


_OBJECTIVE_SELECT = "SELECT o.*, g.client_id FROM objectives o JOIN goals g ON g.id = o.goal_id"


class Caseload:
    """The record's clients, their goals and objectives, and the prompt hierarchies trials are scored
    against (`record.caseload`)."""

    def __init__(self, db: Database, cache: RecordCache, access: Access) -> None:
        self._db = db
        self._cache = cache
        self._access = access

    # -- prompt hierarchies ------------------------------------------------------------------------------
    def prompt_hierarchy(self, client_id: int | None = None) -> tuple[str, ...]:
        """The client's own hierarchy if set, else the practice's, else the default (independent first)."""
        if client_id is not None:
            own = self.client(client_id).settings.get(HIERARCHY_KEY)
            if own:
                return tuple(own)
        row = self._db.query_one("SELECT value FROM settings WHERE key = ?", (HIERARCHY_KEY,))
        return tuple(json.loads(row["value"])) if row else DEFAULT_PROMPT_HIERARCHY

    def set_prompt_hierarchy(self, levels: Sequence[str], client_id: int | None = None) -> None:
        """Set the practice-wide hierarchy, or one client's (most independent level first)."""
        cleaned = validate_hierarchy(levels)
        if client_id is None:
            self._access.who()
            with self._db.transaction() as conn:
                conn.execute(
                    "INSERT INTO settings (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (HIERARCHY_KEY, json.dumps(cleaned)),
                )
                self._access.changed(conn, "update", "settings", HIERARCHY_KEY)
            self._cache.hierarchies.clear()
        else:
            settings = dict(self.client(client_id).settings, **{HIERARCHY_KEY: list(cleaned)})
            self.update_client(client_id, settings=settings)

    def trial_levels(self, client_id: int | None, objective_id: int | None) -> tuple[str, ...]:
        """The levels a trial is scored against: its objective's own, else its client's (cached: this
        runs at every trial tap)."""
        key = (client_id, objective_id)
        levels = self._cache.hierarchies.get(key)
        if levels is None:
            own = self._db.query_one("SELECT prompt_levels FROM objectives WHERE id = ?", (objective_id,))
            levels = tuple(json.loads(own[0])) if own is not None else ()
            levels = self._cache.hierarchies[key] = levels or self.prompt_hierarchy(client_id)
        return levels

    def warm(self, client_ids: Sequence[int]) -> None:
        """Read now what logging a tap for these clients needs (each objective's owner and prompt levels):
        a session whose server goes away mid-way then logs on from the cache."""
        for client_id in client_ids:
            self.trial_levels(client_id, None)
            for objective in self.objectives(client_id, include_archived=True):
                self._cache.objective_owners[objective.id] = client_id
                self.trial_levels(client_id, objective.id)

    # -- clients -----------------------------------------------------------------------------------------
    def add_client(
        self,
        display_name: str,
        *,
        birth_year: int | None = None,
        pseudonym: str | None = None,
        population: str = "",
        preferred_music: str = "",
        preferred_songs: Sequence[str] = (),
        settings: dict[str, Any] | None = None,
    ) -> Client:
        if not display_name.strip():
            raise ValueError("a client needs a display name (or pseudonym)")
        if birth_year is not None and not 1900 <= birth_year <= utc_now().year:
            raise ValueError(f"birth year {birth_year} is not plausible")
        who = self._access.who()
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO clients (display_name, birth_year, pseudonym, population, preferred_music, "
                "preferred_songs, settings, created_at, owner_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    display_name.strip(),
                    birth_year,
                    pseudonym,
                    population,
                    preferred_music,
                    json.dumps(list(preferred_songs)),
                    json.dumps(settings or {}),
                    iso(utc_now()),
                    who.id if who is not None else None,
                ),
            )
            client_id = int(cursor.lastrowid or 0)
            self._access.changed(conn, "create", "clients", client_id, (client_id,))
        return self.client(client_id)

    def update_client(self, client_id: int, **changes: Any) -> Client:
        """Change any Client field except id/created_at, e.g. update_client(3, preferred_music="ABBA")."""
        current = self.client(client_id)
        updated = replace(current, **editable(changes))
        diagnoses = tuple(icd10_code(code) for code in updated.diagnoses)
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE clients SET display_name=?, birth_year=?, pseudonym=?, population=?, "
                "preferred_music=?, preferred_songs=?, settings=?, archived=?, diagnoses=? WHERE id=?",
                (
                    updated.display_name,
                    updated.birth_year,
                    updated.pseudonym,
                    updated.population,
                    updated.preferred_music,
                    json.dumps(list(updated.preferred_songs)),
                    json.dumps(updated.settings),
                    int(updated.archived),
                    json.dumps(list(dict.fromkeys(diagnoses))),
                    client_id,
                ),
            )
            self._access.changed(
                conn, "update", "clients", client_id, (client_id,), ",".join(sorted(changes))
            )
        self._cache.hierarchies.clear()
        return self.client(client_id)

    def client(self, client_id: int) -> Client:
        """One client (checked against the signed-in therapist's caseload first, so a client they may not
        see and one that does not exist look the same to them)."""
        self._access.read("clients", client_id, (client_id,))
        row = self._db.query_one("SELECT * FROM clients WHERE id = ?", (client_id,))
        if row is None:
            raise UnknownRecord(f"no client with id {client_id}")
        return client_from_row(row)

    def clients(self, include_archived: bool = False) -> list[Client]:
        """The clients, by name: for a signed-in therapist only their own and those shared with them."""
        clauses = [] if include_archived else ["archived = 0"]
        params: list[int] = []
        visible = self._access.visible_filter()
        if visible is not None:
            clauses.append(f"id IN ({visible[0]})")
            params.extend(visible[1])
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        self._access.read("clients", "list", ())
        rows = self._db.query(f"SELECT * FROM clients{where} ORDER BY display_name COLLATE NOCASE", params)
        return [client_from_row(row) for row in rows]

    def find_client(self, ref: str) -> Client:
        """A client by id, display name or pseudonym (case-insensitive), as typed on the command line."""
        if ref.strip().isdigit():
            return self.client(int(ref))
        rows = self._db.query(
            "SELECT * FROM clients WHERE display_name = ? COLLATE NOCASE OR pseudonym = ? COLLATE NOCASE",
            (ref.strip(), ref.strip()),
        )
        if not rows:
            raise UnknownRecord(f"no client named {ref!r} (see `companion clients list`)")
        visible = self._access.visible_filter()
        if visible is not None and len(rows) > 1:  # name only the namesakes this therapist may see
            allowed = {row[0] for row in self._db.query(*visible)}
            rows = [row for row in rows if row["id"] in allowed] or rows[:1]  # none: refused (and audited)
        if len(rows) > 1:
            ids = ", ".join(str(row["id"]) for row in rows)
            raise UnknownRecord(f"several clients are named {ref!r} (ids {ids}); use the id")
        return self.client(rows[0]["id"])

    # -- goals -------------------------------------------------------------------------------------------
    def add_goal(self, client_id: int, domain: str, description: str) -> Goal:
        """A goal filed under one of `DOMAINS` (aliases accepted: "cognition", "behavior"); ValueError for a
        domain the list lacks or one naming two ("motor": gross or fine)."""
        self.client(client_id)
        if not description.strip():
            raise ValueError("a goal needs a description")
        filed = goal_domain(domain)
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO goals (client_id, domain, description, created_at) VALUES (?, ?, ?, ?)",
                (client_id, filed, description.strip(), iso(utc_now())),
            )
            goal_id = int(cursor.lastrowid or 0)
            self._access.changed(conn, "create", "goals", goal_id, (client_id,))
        return self.goal(goal_id)

    def goal(self, goal_id: int) -> Goal:
        row = self._db.query_one("SELECT * FROM goals WHERE id = ?", (goal_id,))
        if row is None:
            raise UnknownRecord(f"no goal with id {goal_id}")
        self._access.read("goals", goal_id, (row["client_id"],))
        return goal_from_row(row)

    def goals(self, client_id: int, include_archived: bool = False) -> list[Goal]:
        self._access.read("goals", "list", (client_id,))
        sql = "SELECT * FROM goals WHERE client_id = ?" + ("" if include_archived else " AND archived = 0")
        return [goal_from_row(row) for row in self._db.query(sql + " ORDER BY id", (client_id,))]

    def update_goal(self, goal_id: int, **changes: Any) -> Goal:
        updated = replace(self.goal(goal_id), **editable(changes))
        if "domain" in changes:
            updated = replace(updated, domain=goal_domain(updated.domain))
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE goals SET domain=?, description=?, archived=? WHERE id=?",
                (updated.domain, updated.description, int(updated.archived), goal_id),
            )
            self._access.changed(
                conn, "update", "goals", goal_id, (updated.client_id,), ",".join(sorted(changes))
            )
        return self.goal(goal_id)

    # -- objectives --------------------------------------------------------------------------------------
    def add_objective(
        self,
        goal_id: int,
        description: str,
        criterion: MasteryCriterion | None = None,
        target: str = "",
        prompt_levels: Sequence[str] = (),
    ) -> Objective:
        """An objective under a goal; `prompt_levels`: its own hierarchy (empty: the client's)."""
        goal = self.goal(goal_id)
        if not description.strip():
            raise ValueError("an objective needs a description")
        levels = validate_hierarchy(prompt_levels) if prompt_levels else ()
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO objectives (goal_id, description, criterion, target, created_at, prompt_levels) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    goal_id,
                    description.strip(),
                    json.dumps(asdict(criterion or MasteryCriterion())),
                    target,
                    iso(utc_now()),
                    json.dumps(levels),
                ),
            )
            objective_id = int(cursor.lastrowid or 0)
            self._access.changed(conn, "create", "objectives", objective_id, (goal.client_id,))
        return self.objective(objective_id)

    def objective(self, objective_id: int) -> Objective:
        row = self._db.query_one(_OBJECTIVE_SELECT + " WHERE o.id = ?", (objective_id,))
        if row is None:
            raise UnknownRecord(f"no objective with id {objective_id}")
        self._access.read("objectives", objective_id, (row["client_id"],))
        return objective_from_row(row)

    def objectives(
        self, client_id: int | None = None, goal_id: int | None = None, include_archived: bool = False
    ) -> list[Objective]:
        clauses: list[str] = []
        params: list[object] = []
        if client_id is not None:
            self._access.read("objectives", "list", (client_id,))
            clauses.append("g.client_id = ?")
            params.append(client_id)
        if goal_id is not None:
            self.goal(goal_id)
            clauses.append("o.goal_id = ?")
            params.append(goal_id)
        visible = self._access.visible_filter()
        if visible is not None:
            clauses.append(f"g.client_id IN ({visible[0]})")
            params.extend(visible[1])
        if not include_archived:
            clauses.append("o.archived = 0")
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        return [
            objective_from_row(row)
            for row in self._db.query(_OBJECTIVE_SELECT + where + " ORDER BY o.id", params)
        ]

    def update_objective(self, objective_id: int, **changes: Any) -> Objective:
        updated = replace(self.objective(objective_id), **editable(changes))
        if updated.prompt_levels:
            updated = replace(updated, prompt_levels=validate_hierarchy(updated.prompt_levels))
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE objectives SET description=?, criterion=?, target=?, archived=?, prompt_levels=? "
                "WHERE id=?",
                (
                    updated.description,
                    json.dumps(asdict(updated.criterion)),
                    updated.target,
                    int(updated.archived),
                    json.dumps(updated.prompt_levels),
                    objective_id,
                ),
            )
            detail = ",".join(sorted(changes))
            self._access.changed(conn, "update", "objectives", objective_id, (updated.client_id,), detail)
        self._cache.hierarchies.clear()  # trials on it are now checked against its own levels
        return self.objective(objective_id)

    def set_phase(self, objective_id: int, phase: str, since: date) -> ObjectivePhase:
        """Put an objective in `phase` from the session date `since` on (a new phase ends the last one)."""
        objective = self.objective(objective_id)
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; choose one of {', '.join(PHASES)}")
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO objective_phases (objective_id, phase, since, created_at) VALUES (?, ?, ?, ?)",
                (objective_id, phase, since.isoformat(), iso(utc_now())),
            )
            detail = f"{phase} since {since.isoformat()}"
            self._access.changed(
                conn, "create", "objective_phases", cursor.lastrowid, (objective.client_id,), detail
            )
        return ObjectivePhase(objective_id, phase, since)

    def phases(self, objective_id: int) -> list[ObjectivePhase]:
        """The objective's phase changes, oldest first (on one date, the one set last wins)."""
        self._access.read("objective_phases", objective_id, (self.objective_owner(objective_id),))
        rows = self._db.query(
            "SELECT phase, since FROM objective_phases WHERE objective_id = ? ORDER BY since, id",
            (objective_id,),
        )
        latest = {row["since"]: row["phase"] for row in rows}
        return [ObjectivePhase(objective_id, phase, date.fromisoformat(d)) for d, phase in latest.items()]

    def objective_hierarchy(self, objective: Objective) -> tuple[str, ...]:
        """The hierarchy an objective's trials are scored against: its own, else its client's."""
        return objective.prompt_levels or self.prompt_hierarchy(objective.client_id)

    def objective_owner(self, objective_id: int) -> int:
        """The client an objective belongs to (cached: every tap on an objective asks)."""
        owner = self._cache.objective_owners.get(objective_id)
        if owner is None:
            row = self._db.query_one(
                "SELECT g.client_id FROM objectives o JOIN goals g ON g.id = o.goal_id WHERE o.id = ?",
                (objective_id,),
            )
            if row is None:
                raise UnknownRecord(f"no objective with id {objective_id}")
            owner = self._cache.objective_owners[objective_id] = int(row[0])
        return owner
