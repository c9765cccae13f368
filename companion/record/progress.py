"""Progress of an objective across sessions: one value per session, the trend, and mastery.

The value per session is the objective's criterion metric (e.g. % independent). The trend is the
least-squares slope against calendar time, per week, so irregular scheduling does not distort it. Mastery
follows the criterion literally: N consecutive sessions *with data for the objective* at criterion.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from companion.record.model import Event, Metric, Objective, Session
from companion.record.stats import least_squares_slope
from companion.record.summaries import GroupSummary, session_minutes, summarise_group


@dataclass(frozen=True)
class ProgressPoint:
    session_id: int
    date: date
    value: float
    sample: int  # trials, measurements or events behind the value


@dataclass(frozen=True)
class ObjectiveProgress:
    objective: Objective
    points: tuple[ProgressPoint, ...]
    slope_per_week: float | None
    mastered_on: date | None  # the session that completed the first qualifying run
    current_run: int  # consecutive sessions at criterion up to the latest one

    @property
    def mastered(self) -> bool:
        return self.mastered_on is not None

    @property
    def baseline(self) -> float | None:
        return self.points[0].value if self.points else None

    @property
    def latest(self) -> float | None:
        return self.points[-1].value if self.points else None


def _rating_mean(
    group: GroupSummary, pick: Callable[[float | None, float | None], float | None]
) -> float | None:
    values = [v for r in group.ratings.values() if (v := pick(r.before, r.after)) is not None]
    return sum(values) / len(values) if values else None


def metric_value(group: GroupSummary, metric: Metric) -> tuple[float, int] | None:
    """The metric's value for one session's group of events and the sample behind it, or None if no data."""
    trials = group.trials
    if metric in ("percent_correct", "percent_independent"):
        if trials is None:
            return None
        value = trials.pct_correct if metric == "percent_correct" else trials.pct_independent
        return (value or 0.0), trials.n
    if metric in ("count", "count_per_minute"):
        if not group.counts:
            return None
        total = group.count_total
        return (float(total) if metric == "count" else total / group.minutes), total
    if metric == "duration_seconds":
        if not group.durations:
            return None
        return sum(d.total_seconds for d in group.durations.values()), sum(
            d.episodes for d in group.durations.values()
        )
    if metric == "latency_seconds":
        return None if group.latency is None else (group.latency.mean, group.latency.n)
    if metric in ("rating_after", "rating_change"):
        if metric == "rating_after":
            value = _rating_mean(group, lambda before, after: after)
        else:
            value = _rating_mean(group, lambda b, a: None if a is None or b is None else a - b)
        return None if value is None else (value, len(group.ratings))
    if metric == "cadence_spm":
        return None if group.cadence is None else (group.cadence.last, group.cadence.measurements)
    if metric == "sync_pct_within":
        return None if group.sync is None else (group.sync.pct_within, group.sync.hits)
    raise ValueError(f"unknown metric {metric!r}")


def progress_from_events(
    objective: Objective,
    sessions: Sequence[Session],
    events: Sequence[Event],
    hierarchy: Sequence[str],
) -> ObjectiveProgress:
    """Progress of `objective` over `sessions` (oldest first) from its live events (any order)."""
    by_session: dict[int, list[Event]] = defaultdict(list)
    for event in events:
        by_session[event.session_id].append(event)
    points = []
    for session in sessions:
        mine = by_session.get(session.id)
        if not mine:
            continue
        group = summarise_group(
            (objective.client_id, objective.id), mine, session_minutes(session, mine), hierarchy, ()
        )
        measured = metric_value(group, objective.criterion.metric)
        if measured is not None:
            points.append(ProgressPoint(session.id, session.date, measured[0], measured[1]))
    return _progress(objective, points)


def _progress(objective: Objective, points: list[ProgressPoint]) -> ObjectiveProgress:
    criterion = objective.criterion
    run, mastered_on = 0, None
    for point in points:
        run = run + 1 if criterion.satisfied_by(point.value) else 0
        if mastered_on is None and run >= criterion.consecutive_sessions:
            mastered_on = point.date
    slope = None
    if points:
        origin = points[0].date
        slope = least_squares_slope([(p.date - origin).days / 7 for p in points], [p.value for p in points])
    return ObjectiveProgress(objective, tuple(points), slope, mastered_on, run)
