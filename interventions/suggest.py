"""Rank plans for a client's goals, and say why each one was suggested.

A therapist has to trust a suggestion before using it, so the score is built only from reasons that can
be printed: the plan serves the goal's domain (given, or recognised from words such as "gait" or
"request"), its text shares the goal's words, it serves several of the goals, it suits the client's
population. Setting is a hard limit. Age is soft at the edges: a plan is offered to a client inside its
usual age range, or just outside it (within `Plan.near_age`'s margin: 1 year for young children, 2 for
older children, 5 for adults), and then flagged "outside the usual age range" and ranked lower; further
out it is not offered (a plan for ages 60+ is never suggested for a child).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from interventions.plan import Plan
from interventions.search import PlanIndex
from interventions.text import stem, term_words
from interventions.vocabulary import Format, GoalDomain, Place

#: A goal as the therapist wrote it, optionally with its domain: "walk 10 m" or ("motor", "walk 10 m").
GoalWords = str | tuple[str | GoalDomain, str]

DOMAIN_WEIGHT = 3.0
TEXT_WEIGHT = 4.0
POPULATION_WEIGHT = 1.5
#: Text matches weaker than this share of the goal's best match are noise ("use", "time"), not reasons.
TEXT_FLOOR = 0.15
#: A plan for a client just outside its usual age range scores this share of what it would otherwise,
#: so it ranks below in-range plans that fit the goals about as well, yet is still listed.
OUTSIDE_AGE_FACTOR = 0.5

#: Words that place a goal in a domain when the therapist did not say which.
DOMAIN_WORDS: Mapping[GoalDomain, tuple[str, ...]] = {
    GoalDomain.COMMUNICATION: (
        "speech", "speak", "word", "phrase", "sentence", "vocal", "vocalise", "vocalize", "verbal",
        "language", "request", "communicate", "aac", "sign", "articulation", "intelligibility", "voice",
        "breath", "respiratory", "answer", "naming", "expressive", "receptive", "syllable", "aphasia",
    ),
    GoalDomain.COGNITION_ACADEMIC: (
        "attention", "attend", "focus", "sequence", "count", "letter", "number", "academic", "executive",
        "problem", "direction", "colour", "color", "shape", "concept", "task", "planning", "inhibition",
        "cognitive", "cognition", "sustained", "selective", "alphabet", "reading", "discriminate",
    ),
    GoalDomain.GROSS_MOTOR: (
        "walk", "gait", "stride", "cadence", "step", "balance", "stand", "sit", "transfer", "arm",
        "reach", "posture", "mobility", "ambulation", "jump", "kick", "trunk", "shoulder", "range",
        "endurance", "march", "leg", "motor",
    ),
    GoalDomain.FINE_MOTOR: (
        "finger", "grasp", "pincer", "hand", "dexterity", "keyboard", "grip", "wrist", "release",
        "isolation", "bilateral", "mallet", "tap", "motor",
    ),
    GoalDomain.SENSORY: (
        "sensory", "tactile", "auditory", "vibration", "touch", "stimulation", "arousal", "alert",
        "orientation", "processing", "tolerate", "tolerance", "neglect", "visual",
    ),
    GoalDomain.SOCIAL: (
        "turn", "peer", "share", "group", "eye", "contact", "joint", "social", "cooperate", "interact",
        "friend", "greet", "together", "belonging", "cohesion", "partner", "imitate",
    ),
    GoalDomain.EMOTIONAL_REGULATION: (
        "emotion", "feeling", "regulate", "regulation", "cope", "coping", "calm", "express", "mood",
        "anger", "frustration", "esteem", "identity", "grief", "trauma", "meltdown", "recovery", "craving",
        "relapse", "self",
    ),
    GoalDomain.MUSICAL: (
        "music", "musical", "rhythm", "beat", "melody", "pitch", "tune", "ensemble", "instrument",
        "improvise", "lesson", "performance", "chord", "ukulele", "guitar", "piano", "drum", "tempo",
    ),
    GoalDomain.QUALITY_OF_LIFE: (
        "comfort", "wellbeing", "quality", "life", "leisure", "legacy", "dignity", "engagement",
        "isolation", "joy", "meaning", "family", "spiritual", "end",
    ),
    GoalDomain.PAIN: ("pain", "discomfort", "ache", "procedure", "hurt", "analgesia"),
    GoalDomain.ANXIETY: (
        "anxiety", "anxious", "worry", "stress", "fear", "nervous", "panic", "relax", "agitation",
        "tension", "sleep", "restless",
    ),
    GoalDomain.MEMORY: (
        "memory", "remember", "recall", "reminiscence", "orientation", "autobiographical", "dementia",
        "recognise", "recognize", "retain",
    ),
}  # fmt: skip

_DOMAIN_TERMS: Mapping[GoalDomain, frozenset[str]] = {
    domain: frozenset(stem(word) for word in words) for domain, words in DOMAIN_WORDS.items()
}


@dataclass(frozen=True)
class GoalServed:
    """One of the goals asked about that a plan serves, and why in plain words."""

    goal: int
    """Its position in the goals asked about (0 = the first)."""
    why: str
    """E.g. 'serves social; mentions "turn", "drum"'."""


@dataclass(frozen=True)
class Suggestion:
    """A plan suggested for the client's goals, how strongly, and the reasons in plain words.

    `served` says which of the goals asked about it serves, so a caller that asks per objective (the
    app: matching is sharper on one objective's words) can count the client's goals behind them.
    """

    plan: Plan
    score: float
    reasons: tuple[str, ...]
    served: tuple[GoalServed, ...] = ()
    outside_age: int = 0
    """Years the client's age lies outside the plan's usual age range (0: inside it, or no age given);
    when above 0, the first reason says so and the score is reduced by `OUTSIDE_AGE_FACTOR`."""

    @property
    def age_reason(self) -> str:
        """The "outside the usual age range: ages 10+, client 8" line, "" when the plan fits the age (it
        is the first reason, so a list of reasons reads with the flag first)."""
        return self.reasons[0] if self.outside_age else ""


def recognise_domains(text: str) -> dict[GoalDomain, list[str]]:
    """The domains whose key words appear in `text`, each with the words that gave it away."""
    found: dict[GoalDomain, list[str]] = {}
    for term, word in term_words(text).items():
        for domain, domain_terms in _DOMAIN_TERMS.items():
            if term in domain_terms:
                found.setdefault(domain, []).append(word)
    return found


@dataclass(frozen=True)
class _GoalQuery:
    number: int
    text: str
    domains: dict[GoalDomain, list[str]]  # domain -> words it was recognised from ([] when given)
    words: dict[str, str]  # term -> the goal's own word


def _goal_queries(goals: Iterable[GoalWords]) -> list[_GoalQuery]:
    queries = []
    for number, goal in enumerate(goals, start=1):
        if isinstance(goal, tuple):
            domain, text = goal
            domains: dict[GoalDomain, list[str]] = {d: [] for d in GoalDomain.parse(domain)}
        else:
            text, domains = goal, recognise_domains(goal)
        if not text.strip():
            raise ValueError(f"goal {number} is empty; write the goal or objective as text")
        queries.append(_GoalQuery(number, text.strip(), domains, term_words(text)))
    return queries


def _quoted(words: Iterable[str]) -> str:
    return ", ".join(f'"{word}"' for word in words)


def _short(text: str) -> str:
    return text if len(text) <= 48 else text[:45].rstrip() + "..."


def rank(
    index: PlanIndex,
    goals: Sequence[GoalWords],
    *,
    age: int | None = None,
    population: str | None = None,
    setting: Format | Place | None = None,
    limit: int | None = 10,
) -> list[Suggestion]:
    """Plans of `index` ranked for `goals`: per goal, domain served plus shared words; then population."""
    queries = _goal_queries(goals)
    scores = [0.0] * len(index.plans)
    reasons: list[list[str]] = [[] for _ in index.plans]
    served: list[list[GoalServed]] = [[] for _ in index.plans]
    for query in queries:
        matches = index.match(query.text)
        best = max((m.score for m in matches.values()), default=0.0)
        for position, plan in enumerate(index.plans):
            parts = []
            gained = 0.0
            shared = [d for d in plan.domains if d in query.domains]
            if shared:
                gained += DOMAIN_WEIGHT
                names = " and ".join(map(str, shared))
                given = [word for d in shared for word in query.domains[d]]
                parts.append(
                    f"serves {names}" + (f" (from {_quoted(dict.fromkeys(given))})" if given else "")
                )
            found = matches.get(position)
            if found is not None and best > 0 and found.score / best >= TEXT_FLOOR:
                gained += TEXT_WEIGHT * found.score / best
                words = [query.words[t] for t in query.words if t in found.terms]
                parts.append(f"mentions {_quoted(words)}")
            if gained:
                scores[position] += gained
                because = "; ".join(parts)
                served[position].append(GoalServed(query.number - 1, because))
                reasons[position].append(f'goal {query.number} "{_short(query.text)}": {because}')
    suggestions = []
    for position, plan in enumerate(index.plans):
        if not scores[position]:
            continue
        if setting is not None and not plan.offers(setting):
            continue
        if age is not None and not plan.near_age(age):
            continue
        outside = plan.years_outside_age(age) if age is not None else 0
        why = reasons[position]
        if len(queries) > 1 and len(served[position]) > 1:
            why.insert(0, f"serves {len(served[position])} of your {len(queries)} goals")
        if population and plan.serves_population(population):
            scores[position] += POPULATION_WEIGHT
            why.append(f"written for {population}")
        if outside:
            scores[position] *= OUTSIDE_AGE_FACTOR
            why.insert(0, f"outside the usual age range: ages {plan.age_label}, client {age}")
        suggestions.append(
            Suggestion(plan, round(scores[position], 3), tuple(why), tuple(served[position]), outside)
        )
    suggestions.sort(key=lambda s: (-s.score, s.plan.title))
    return suggestions if limit is None else suggestions[:limit]
