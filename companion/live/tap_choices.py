"""What a rating, a measure, a count or a duration may be called in a session: the plan's own, the one the
objective used before, or a generic one, so labels stay consistent from session to session."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import cast

from companion.record import Objective
from companion.record.payloads import RATING_PHASES, RatingPhase
from interventions import DataKind

DEFAULT_LABELS = {DataKind.COUNT: "count", DataKind.DURATION: "time on task", DataKind.RATING: "engagement"}
DEFAULT_SCALE = (0.0, 10.0)


@dataclass(frozen=True)
class RatingChoice:
    """A rating the therapist can give now: its label, scale and the moment it is usually taken."""

    label: str
    scale: tuple[float, float]
    phases: tuple[str, ...] = ("before", "during", "after")


@dataclass(frozen=True)
class MeasureChoice:
    """A measure the therapist can take now: its label, unit and the moments it is usually taken."""

    label: str
    unit: str
    phases: tuple[str, ...] = ("before", "during", "after")


MEASURED_AS = {
    DataKind.MEASURE: ("measure_last",),
    DataKind.COUNT: ("count", "count_per_minute"),
    DataKind.DURATION: ("duration_seconds",),
}


def measured_as(objective: Objective, kind: DataKind) -> bool:
    """The objective's criterion reads taps of `kind`: a count objective is counted, its name is the label."""
    return objective.criterion.metric in MEASURED_AS.get(kind, ())


def rating_phase(choice: RatingChoice, rated: Collection[str]) -> RatingPhase:
    """The moment a rating is preset to: before, until this label was rated in the session; then
    during (else the first moment the rating is taken at)."""
    phases = choice.phases
    if choice.label not in rated and "before" in phases:
        return "before"
    return cast(RatingPhase, "during" if "during" in phases else phases[0])


def measure_phase(choice: MeasureChoice | None, measured: Collection[str]) -> str:
    """Before, until this measure was taken in the session; then after (a pre/post pair). A measure
    typed anew (`choice` None) may be taken at any moment."""
    phases = choice.phases if choice is not None else RATING_PHASES
    label = choice.label if choice is not None else ""
    if label not in measured and "before" in phases:
        return "before"
    return "after" if "after" in phases else phases[0]
