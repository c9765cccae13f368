"""The figures of one kind of event in a session: trials, counts, durations, ratings, measures, samples,
tempo, cadence, walks and sync. A `GroupSummary` (see `summaries`) is made of these; notes and reports word
them (`companion.documents.wording`).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from companion.record.model import MasteryCriterion, summarise_takes
from companion.record.stats import percent


@dataclass(frozen=True)
class TrialStats:
    """Trials scored against a prompt hierarchy; "independent" = correct at the hierarchy's first level."""

    n: int
    correct: int
    independent: int
    by_level: dict[str, tuple[int, int]]  # level -> (correct, incorrect), in hierarchy order
    no_response: int = 0
    refused: int = 0

    @property
    def pct_correct(self) -> float | None:
        return percent(self.correct, self.n)

    @property
    def pct_independent(self) -> float | None:
        return percent(self.independent, self.n)


@dataclass(frozen=True)
class CountStats:
    total: int
    per_minute: float
    observed: bool = False
    """The rate is over the time the objective was observed (False: over the whole session, as no
    observation window was recorded)."""


@dataclass(frozen=True)
class DurationStats:
    total_seconds: float
    episodes: int
    open_episodes: int  # started but never stopped; counted up to the session's end
    values: tuple[float, ...] = ()
    """Each episode's seconds, in the order they ended (an open one last)."""

    def summarised(self, criterion: MasteryCriterion) -> float | None:
        """The session's figure by the objective's rule (total, best, mean ...)."""
        rule = criterion.summary_rule or "sum"
        return summarise_takes(rule, self.values, criterion.lower_is_better)


@dataclass(frozen=True)
class RatingStats:
    label: str
    scale: tuple[float, float]
    before: float | None
    during: tuple[float, ...]
    after: float | None

    @property
    def change(self) -> float | None:
        return None if self.before is None or self.after is None else self.after - self.before


@dataclass(frozen=True)
class MeasureStats:
    """One measure's values in a session, in its unit: before and after (the change a note reports) and
    the latest, whatever the phase."""

    label: str
    unit: str
    before: float | None
    after: float | None
    last: float
    n: int
    values: tuple[float, ...] = ()
    """Every take, in the order taken."""

    @property
    def change(self) -> float | None:
        return None if self.before is None or self.after is None else self.after - self.before

    def summarised(self, criterion: MasteryCriterion) -> float | None:
        """The session's figure by the objective's rule (last, best, mean, change ...)."""
        rule = criterion.summary_rule or "last"
        return summarise_takes(rule, self.values, criterion.lower_is_better, self.change)


@dataclass(frozen=True)
class SampleStats:
    """Time sampling of one behaviour in a session: intervals sampled and how many had it."""

    label: str
    method: str
    interval_s: float
    intervals: int
    occurred: int

    @property
    def pct(self) -> float:
        return 100.0 * self.occurred / self.intervals


@dataclass(frozen=True)
class TempoRange:
    minimum: float
    maximum: float
    meters: tuple[str, ...]

    def describe(self) -> str:
        if self.minimum == self.maximum:
            return f"{self.minimum:g} bpm"
        return f"{self.minimum:g}-{self.maximum:g} bpm"


@dataclass(frozen=True)
class CadenceStats:
    first: float
    last: float
    maximum: float
    mean_cv: float
    measurements: int


@dataclass(frozen=True)
class WalkStats:
    """Timed walks in a session, each as velocity (m/s) and, where steps were counted, cadence and stride
    length. The 10-metre walk test is scored as the mean of its trials, so the figures are means."""

    distance_m: float
    velocities: tuple[float, ...]
    cadences: tuple[float, ...]
    strides: tuple[float, ...]
    conditions: tuple[str, ...]

    @property
    def n(self) -> int:
        return len(self.velocities)

    @property
    def velocity(self) -> float:
        return statistics.fmean(self.velocities)

    @property
    def cadence(self) -> float | None:
        return statistics.fmean(self.cadences) if self.cadences else None

    @property
    def stride(self) -> float | None:
        return statistics.fmean(self.strides) if self.strides else None


@dataclass(frozen=True)
class SyncStats:
    exercises: int
    mean_asynchrony_ms: float  # weighted by hits matched to a beat
    mean_sd_ms: float
    mean_r: float
    pct_within: float  # % of beats hit within the window, weighted by beats
    beats: int
    hits: int
    missed: int
    extra: int
