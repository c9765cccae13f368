"""Inter-observer agreement (IOA): a second observer's blind record of a session against the primary one.

The indices are the ones ABA reports use (Cooper, Heron & Heward, ch. 5): trial-by-trial IOA compares
each trial in order (same result at the same prompt level), with a trial only one observer took counting
as a disagreement; total count IOA is the smaller total over the larger; interval-by-interval IOA compares
each time-sampling interval in order. Figures are per objective, and only for what both observers could
have recorded: an objective the second observer never took data on has no agreement, not 0%.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import zip_longest

from companion.record.model import Event
from companion.record.payloads import Count, Sample, Trial

TRIAL_BY_TRIAL, TOTAL_COUNT, INTERVAL_BY_INTERVAL = "trial-by-trial", "total count", "interval-by-interval"


@dataclass(frozen=True)
class Agreement:
    """One IOA figure for one objective of a session: `items` trials, count units or intervals compared."""

    objective_id: int
    measure: str
    agreement_pct: float
    items: int

    def describe(self) -> str:
        unit = {TRIAL_BY_TRIAL: "trials", TOTAL_COUNT: "counted", INTERVAL_BY_INTERVAL: "intervals"}[
            self.measure
        ]
        return f"IOA {self.measure} {self.agreement_pct:.0f}% ({self.items} {unit})"


def agreements(primary: Sequence[Event], second: Sequence[Event]) -> list[Agreement]:
    """The IOA of each objective both records have data on (events live, in logging order)."""
    mine, theirs = _by_objective(primary), _by_objective(second)
    found: list[Agreement] = []
    for objective_id in sorted(mine.keys() & theirs.keys()):
        a, b = mine[objective_id], theirs[objective_id]
        found += _ordered(objective_id, TRIAL_BY_TRIAL, _trials(a), _trials(b))
        found += _ordered(objective_id, INTERVAL_BY_INTERVAL, _samples(a), _samples(b))
        found += _total_count(objective_id, a, b)
    return found


def _by_objective(events: Sequence[Event]) -> dict[int, list[Event]]:
    grouped: dict[int, list[Event]] = defaultdict(list)
    for event in events:
        if event.objective_id is not None:
            grouped[event.objective_id].append(event)
    return grouped


def _trials(events: Sequence[Event]) -> list[object]:
    return [
        (e.payload.correct, e.payload.prompt_level, e.payload.outcome)
        for e in events
        if isinstance(e.payload, Trial)
    ]


def _samples(events: Sequence[Event]) -> list[object]:
    return [(e.client_id, e.payload.occurred) for e in events if isinstance(e.payload, Sample)]


def _ordered(objective_id: int, measure: str, a: list[object], b: list[object]) -> list[Agreement]:
    """Item by item in order; an item only one observer recorded is a disagreement."""
    if not a and not b:
        return []
    pairs = list(zip_longest(a, b))
    agreed = sum(1 for x, y in pairs if x is not None and x == y)
    return [Agreement(objective_id, measure, 100.0 * agreed / len(pairs), len(pairs))]


def _total_count(objective_id: int, a: Sequence[Event], b: Sequence[Event]) -> list[Agreement]:
    totals = [sum(e.payload.delta for e in events if isinstance(e.payload, Count)) for events in (a, b)]
    counted = [any(isinstance(e.payload, Count) for e in events) for events in (a, b)]
    if not any(counted):
        return []
    smaller, larger = min(totals), max(totals)
    pct = 100.0 if larger == smaller else 100.0 * max(smaller, 0) / larger if larger > 0 else 0.0
    return [Agreement(objective_id, TOTAL_COUNT, pct, larger)]
