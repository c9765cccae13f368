"""The intervention library: the shipped plans plus the therapist's own, found by goal, filter or text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path

import platformdirs

from interventions.errors import PlanError
from interventions.loader import LoadedPlan, load_directory
from interventions.plan import Plan
from interventions.search import PlanIndex
from interventions.suggest import GoalWords, Suggestion, rank
from interventions.vocabulary import Format, GoalDomain, Place, parse_setting, parse_technique

SHIPPED_DIR = Path(__file__).resolve().parent / "plans"


def default_user_dir() -> Path:
    """Where the therapist's own plans live when the caller does not say: `<user data dir>/plans`."""
    return Path(platformdirs.user_data_dir("companion")) / "plans"


class Library:
    """All plans by id, with the problems found while loading them.

    User plans add to the shipped ones, and replace a shipped plan with the same id: a therapist adapts a
    plan by copying it into the user folder and editing it, without touching the installed files.
    """

    def __init__(
        self, shipped: Iterable[LoadedPlan], user: Iterable[LoadedPlan], errors: Sequence[PlanError]
    ):
        user = list(user)
        self._entries = {entry.plan.id: entry for entry in shipped}
        self._user_ids = {entry.plan.id for entry in user}
        self._overrides = {plan_id for plan_id in self._user_ids if plan_id in self._entries}
        self._entries.update((entry.plan.id, entry) for entry in user)
        self.errors: list[PlanError] = list(errors)

    @classmethod
    def load(cls, user_dir: Path | None = None) -> Library:
        """Load the shipped plans and those in `user_dir` (default `default_user_dir()`); never raises
        for bad plan files, which end up in `.errors` while every valid plan still loads."""
        shipped, shipped_errors = load_directory(SHIPPED_DIR)
        user, user_errors = load_directory(user_dir if user_dir is not None else default_user_dir())
        return cls(shipped, user, [*shipped_errors, *user_errors])

    @cached_property
    def plans(self) -> list[Plan]:
        """Every plan, sorted by id."""
        return [self._entries[plan_id].plan for plan_id in sorted(self._entries)]

    def get(self, plan_id: str) -> Plan | None:
        entry = self._entries.get(plan_id)
        return entry.plan if entry is not None else None

    def path_of(self, plan_id: str) -> Path | None:
        """The file a plan was loaded from (a user file when it overrides a shipped plan)."""
        entry = self._entries.get(plan_id)
        return entry.path if entry is not None else None

    def is_user_plan(self, plan_id: str) -> bool:
        """Whether the plan comes from the user folder (new, or replacing a shipped plan)."""
        return plan_id in self._user_ids

    def is_override(self, plan_id: str) -> bool:
        """Whether a user plan replaced the shipped plan with this id."""
        return plan_id in self._overrides

    def filter(
        self,
        domain: str | GoalDomain | None = None,
        population: str | None = None,
        age: int | None = None,
        setting: str | Format | Place | None = None,
        technique: str | None = None,
    ) -> list[Plan]:
        """Plans meeting every given criterion (unset ones are ignored).

        `domain` accepts aliases ("motor" = gross or fine motor); `population` is a case-insensitive
        substring ("parkinson"); `setting` is a format or a place ("group", "in-home", "telehealth");
        `technique` is an NMT code, a method or an approach ("RAS", "songwriting", "GIM"). Unknown
        names raise ValueError listing the valid ones.

        `age` is exact here (`Plan.suits_age`): a filtered list has no room to say that a plan is outside
        its usual ages, so it shows only plans inside them. `suggest` is the soft one (see there).
        """
        domains = GoalDomain.parse(domain) if domain is not None else None
        place = parse_setting(setting) if isinstance(setting, str) else setting
        wanted = parse_technique(technique) if technique is not None else None
        return [
            plan
            for plan in self.plans
            if (domains is None or domains.intersection(plan.domains))
            and (population is None or plan.serves_population(population))
            and (age is None or plan.suits_age(age))
            and (place is None or plan.offers(place))
            and (wanted is None or plan.uses(wanted))
        ]

    def search(self, text: str) -> list[Plan]:
        """Plans matching any word of `text`, best first; a plan's exact id or title ranks it first."""
        return self._index.search(text)

    def suggest(
        self,
        goals: Sequence[GoalWords],
        *,
        age: int | None = None,
        population: str | None = None,
        setting: str | Format | Place | None = None,
        limit: int | None = 10,
    ) -> list[Suggestion]:
        """Plans ranked for a client's goals, each with the reasons it was suggested.

        `goals` are objective or goal texts, or (domain, text) pairs when the domain is known. `setting`
        excludes plans that do not fit; `population` ("autism", "stroke") favours plans for it. `age` is
        soft at the edges: plans whose usual range the client is just outside (`Plan.near_age`) are still
        suggested, ranked lower, with `outside_age` set and "outside the usual age range" as the first
        reason; plans further out are left out.
        """
        place = parse_setting(setting) if isinstance(setting, str) else setting
        return rank(self._index, goals, age=age, population=population, setting=place, limit=limit)

    @cached_property
    def _index(self) -> PlanIndex:
        return PlanIndex(self.plans)
