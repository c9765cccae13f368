"""Full-text search over plans: which words count, and how much, per part of a plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from interventions.plan import Plan
from interventions.text import Match, TextIndex, stem, terms

#: A word in the title or tags says what the plan *is*; a word in a precaution only mentions something.
FIELD_WEIGHTS: Mapping[str, float] = {
    "title": 4.0,
    "tags": 2.5,
    "populations": 2.0,
    "summary": 1.5,
    "objectives": 1.5,
    "steps": 1.0,
    "materials": 1.0,
    "data": 0.8,
    "adaptations": 0.6,
    "precautions": 0.6,
}
#: Extra score when the query is the plan's id or title, so naming a plan always finds it first.
EXACT_NAME_BONUS = 100.0
#: Plans that match only some of the words and score below this share of the best match are dropped:
#: "drum circle" should not list every plan that mentions a semicircle.
PARTIAL_MATCH_FLOOR = 0.25
#: Words naming an age group, with its ages in years. In a search they say whom the plan is for, not
#: what it is about: "anxiety teens" lists anxiety plans that suit ages 13-19 first, and not a plan for
#: 60+ whose text mentions songs from one's teens.
AGE_GROUPS: Mapping[str, tuple[int, int]] = {
    stem(word): ages
    for words, ages in (
        (("infant", "infants", "baby", "babies", "toddler", "toddlers"), (0, 3)),
        (("child", "children", "kid", "kids"), (4, 12)),
        (("teen", "teens", "teenager", "teenagers", "adolescent", "adolescents", "youth"), (13, 19)),
        (("elderly", "senior", "seniors", "geriatric"), (65, 120)),
    )
    for word in words
}


def searchable_text(plan: Plan) -> dict[str, str]:
    """The text of each weighted part of a plan."""
    tags = [plan.id.replace("-", " "), str(plan.approach), *map(str, plan.methods), *map(str, plan.domains)]
    if plan.technique is not None:
        tags += [plan.technique.value, plan.technique.full_name]
    if plan.tempo is not None and plan.tempo.cue != "click":
        tags.append(plan.tempo.cue.replace("-", " "))
    return {
        "title": plan.title,
        "tags": " ".join(tags),
        "populations": " ".join(plan.populations),
        "summary": plan.summary,
        "objectives": " ".join(plan.objectives),
        "steps": " ".join(plan.steps),
        "materials": " ".join(plan.materials),
        "data": " ".join(tap.label for tap in plan.data),
        "adaptations": " ".join([*plan.adaptations.easier, *plan.adaptations.harder]),
        "precautions": " ".join([*plan.precautions, *plan.contraindications]),
    }


class PlanIndex:
    """A search index over a fixed list of plans (rebuilt when the library is reloaded)."""

    def __init__(self, plans: Sequence[Plan]) -> None:
        self.plans = list(plans)
        self._index = TextIndex([searchable_text(plan) for plan in self.plans], FIELD_WEIGHTS)
        self._names = [{terms_key(plan.id), terms_key(plan.title)} for plan in self.plans]

    def match(self, text: str) -> dict[int, Match]:
        """Scores of the plans (by position) that contain any term of `text`."""
        return self._index.match(terms(text))

    def search(self, text: str) -> list[Plan]:
        """Plans containing the terms of `text`, best first (more distinct terms and rarer terms win).

        Plans containing every term are always listed; those with only some are listed when they score
        within reach of the best match. An age group among other words ("anxiety teens") is matched
        against each plan's ages instead of its text: plans whose ages cover the group come first, then
        those covering part of it, then the others.
        """
        key = terms_key(text)
        everything = terms(text)
        ages = [AGE_GROUPS[term] for term in everything if term in AGE_GROUPS]
        wanted = {term for term in everything if term not in AGE_GROUPS} or set(everything)
        matches = self._index.match(list(wanted))
        best = max((found.score for found in matches.values()), default=0.0)
        ranked = []
        for position, found in matches.items():
            if found.terms != wanted and found.score < PARTIAL_MATCH_FLOOR * best:
                continue
            plan = self.plans[position]
            bonus = EXACT_NAME_BONUS if key in self._names[position] else 0.0
            fit = _age_fit(plan, ages[0]) if ages else 0
            ranked.append((fit, -(found.score + bonus), plan.title, plan))
        return [plan for *_, plan in sorted(ranked, key=lambda item: item[:3])]


def _age_fit(plan: Plan, ages: tuple[int, int]) -> int:
    """0: the plan's ages cover the group's; 1: part of them; 2: none (a plan for 60+ asked for teens)."""
    youngest, oldest = ages
    if plan.age_min <= youngest and oldest <= plan.age_max:
        return 0
    return 1 if plan.age_min <= oldest and youngest <= plan.age_max else 2


def terms_key(text: str) -> str:
    """Text reduced to its terms, so "RAS gait-training" and "ras-gait-training" compare equal."""
    return " ".join(terms(text))
