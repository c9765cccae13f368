"""Progress of an objective across sessions: one value per session, the trend, and mastery.

The value per session is the objective's criterion metric (e.g. % independent). It is aggregated inside
SQLite (json_extract over the indexed objective's events), because a client seen weekly for five years
has tens of thousands of events and the review screen must answer in well under 100 ms; only durations
(start/stop pairing), rates (observation windows) and measures (the objective's summary rule: mean, best,
change ...) are computed in Python from their few events. The figures are the same as
the session summaries' (a test holds the two together). The trend is the least-squares slope against
calendar time, per week, so irregular scheduling does not distort it. Mastery follows the criterion
literally: N consecutive sessions *with data for the objective* at criterion, in its intervention (or probe)
phase (baseline comes before teaching, maintenance after mastery), counting only sessions with
the criterion's minimum of opportunities (a session with too few neither counts nor breaks the run: it is
not evidence either way).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from companion.record.access import Access
from companion.record.caseload import Caseload
from companion.record.database import Database
from companion.record.event_log import EventLog
from companion.record.event_queries import metric_per_session, objective_events
from companion.record.model import (
    JUDGED_PHASES,
    Event,
    Metric,
    Objective,
    ObjectivePhase,
    Session,
    summarise_takes,
)
from companion.record.sessions import Sessions
from companion.record.stats import least_squares_slope
from companion.record.summaries import (
    GroupSummary,
    SessionSummary,
    session_minutes,
    summarise_group,
    summarise_session,
)

CURRENT_SESSIONS = 3
"""Sessions whose mean is an objective's current level in reports (first vs last session says little)."""


@dataclass(frozen=True)
class ProgressPoint:
    session_id: int
    date: date
    value: float
    sample: int  # trials, events or measurements behind the value
    phase: str = "intervention"


@dataclass(frozen=True)
class ObjectiveProgress:
    objective: Objective
    points: tuple[ProgressPoint, ...]
    slope_per_week: float | None
    mastered_on: date | None  # the session that completed the first qualifying run
    current_run: int  # consecutive sessions at criterion up to the latest one
    phases: tuple[ObjectivePhase, ...] = ()

    @property
    def mastered(self) -> bool:
        return self.mastered_on is not None

    def phase_changes(self) -> list[ObjectivePhase]:
        """The phase changes within the charted sessions' span (where a chart draws its phase lines)."""
        if not self.points:
            return []
        first, last = self.points[0].date, self.points[-1].date
        return [change for change in self.phases if first < change.since <= last]

    @property
    def baseline(self) -> float | None:
        """The mean of the baseline phase's sessions when there is one, else the first session's value."""
        baseline = [p.value for p in self.points if p.phase == "baseline"]
        if baseline:
            return statistics.fmean(baseline)
        return self.points[0].value if self.points else None

    @property
    def latest(self) -> float | None:
        return self.points[-1].value if self.points else None

    def current(self, last: int = CURRENT_SESSIONS) -> float | None:
        """The current level: the mean of the last `last` sessions (one short probe is not a level)."""
        recent = [p.value for p in self.points[-last:]]
        return statistics.fmean(recent) if recent else None


STATUSES: tuple[str, ...] = (
    "met",
    "maintained",
    "progressing",
    "not progressing",
    "regressed",
    "discontinued",
    "too few sessions",
)
MEANINGFUL_SHARE = 0.05
"""A change toward the criterion counts as progress when it is at least this share of the criterion
(4 points of an 80 % criterion): smaller moves are within a session's noise."""


def objective_status(period: ObjectiveProgress, before: ObjectiveProgress | None = None) -> str:
    """Where an objective stands at the end of a period, as a report says it (`STATUSES`).

    `period`: its progress over the period; `before`: its progress up to the period's start, to tell an
    objective met earlier and held (maintained) or lost (regressed) from one met in the period."""
    criterion = period.objective.criterion
    if period.objective.archived:
        return "discontinued"
    current, baseline = period.current(), period.baseline
    if before is not None and before.mastered:
        return "maintained" if current is None or criterion.satisfied_by(current) else "regressed"
    if period.mastered:
        return "met"
    if len(period.points) < 2 or current is None or baseline is None:
        return "too few sessions"  # one session is a baseline, not a direction
    sign = 1 if criterion.direction == "at_least" else -1
    moved = (current - baseline) * sign
    meaningful = MEANINGFUL_SHARE * max(abs(criterion.threshold), 1.0)
    if moved >= meaningful:
        return "progressing"
    return "regressed" if moved <= -meaningful else "not progressing"


PAIRED_KINDS: dict[str, tuple[str, ...]] = {
    "duration_seconds": ("duration_start", "duration_stop", "duration"),
    "count_per_minute": ("count", "observation_start", "observation_stop"),
    "measure_last": ("measure",),
    "gait_velocity": ("walk",),
}
"""Metrics worked out in Python from the session's summary: durations pair starts with stops, a rate reads
the counts and the windows they were observed in, and both durations and measures follow the objective's
summary rule."""


def _rating_values(rows: Sequence[Sequence[object]], metric: Metric) -> dict[int, tuple[float, int]]:
    per_session: dict[int, list[tuple[float | None, float | None]]] = defaultdict(list)
    for session_id, _label, before, after in rows:
        per_session[int(str(session_id))].append(
            (None if before is None else float(str(before)), None if after is None else float(str(after)))
        )
    values = {}
    for session_id, labels in per_session.items():
        if metric == "rating_after":
            picked = [after for _, after in labels if after is not None]
        else:
            picked = [after - before for before, after in labels if before is not None and after is not None]
        if picked:
            values[session_id] = (statistics.fmean(picked), len(labels))
    return values


def _grouped_values(
    events: Sequence[Event],
    sessions: dict[int, Session],
    value: Callable[[GroupSummary, Sequence[Event]], tuple[float, int] | None],
) -> dict[int, tuple[float, int]]:
    """(value, sample) per session from the summary of its events, for figures SQL cannot pair up."""
    by_session: dict[int, list[Event]] = defaultdict(list)
    for event in events:
        by_session[event.session_id].append(event)
    values = {}
    for session_id, mine in by_session.items():
        group = summarise_group((None, None), mine, session_minutes(sessions[session_id], mine), (), ())
        found = value(group, mine)
        if found is not None:
            values[session_id] = found
    return values


def _paired_value(
    objective: Objective,
) -> Callable[[GroupSummary, Sequence[Event]], tuple[float, int] | None]:
    """The objective's figure for one session's summary, and the takes behind it."""
    criterion = objective.criterion

    def value(group: GroupSummary, events: Sequence[Event]) -> tuple[float, int] | None:
        if criterion.metric == "count_per_minute":
            if not group.counts:
                return None  # counts per minute observed (per session minute when no window was recorded)
            over = group.observed_minutes or group.minutes
            return group.count_total / over, sum(1 for e in events if e.kind == "count")
        if criterion.metric == "duration_seconds":
            taken = [v for d in group.durations.values() for v in d.values]
            figure = summarise_takes(criterion.summary_rule or "sum", taken, criterion.lower_is_better)
            return None if figure is None else (figure, len(taken))
        if criterion.metric == "gait_velocity":
            if group.walks is None:
                return None
            velocities = group.walks.velocities
            figure = summarise_takes(criterion.summary_rule or "mean", velocities, criterion.lower_is_better)
            return None if figure is None else (figure, len(velocities))
        measure = next(iter(group.measures.values()), None)  # the objective's measure, in its first unit
        figure = None if measure is None else measure.summarised(criterion)
        return None if measure is None or figure is None else (figure, measure.n)

    return value


def session_values(
    db: Database, objective: Objective, sessions: Sequence[Session], first_level: str
) -> dict[int, tuple[float, int]]:
    """(value, sample) of the objective's criterion metric for each session that has data for it."""
    metric = objective.criterion.metric
    by_id = {s.id: s for s in sessions}
    if metric in PAIRED_KINDS:
        found = objective_events(db, objective.id, PAIRED_KINDS[metric])
        events = [e for e in found if e.session_id in by_id]
        return _grouped_values(events, by_id, _paired_value(objective))
    rows = [row for row in metric_per_session(db, objective.id, metric, first_level) if row[0] in by_id]
    if metric in ("rating_after", "rating_change"):
        return _rating_values(rows, metric)
    return {int(sid): (float(value), int(n)) for sid, n, value in rows if value is not None}


def objective_progress(
    db: Database,
    objective: Objective,
    sessions: Sequence[Session],
    first_level: str,
    phases: Sequence[ObjectivePhase] = (),
) -> ObjectiveProgress:
    """Progress of `objective` over `sessions` (oldest first), each session in the phase of its date."""
    values = session_values(db, objective, sessions, first_level)
    points = [
        ProgressPoint(s.id, s.date, values[s.id][0], values[s.id][1], phase_on(phases, s.date))
        for s in sessions
        if s.id in values
    ]
    return _progress(objective, points, tuple(phases))


def phase_on(phases: Sequence[ObjectivePhase], day: date) -> str:
    """The phase in force on `day` (intervention before any was set)."""
    current = "intervention"
    for change in phases:
        if change.since <= day:
            current = change.phase
    return current


def _progress(
    objective: Objective, points: list[ProgressPoint], phases: tuple[ObjectivePhase, ...]
) -> ObjectiveProgress:
    criterion = objective.criterion
    run, mastered_on = 0, None
    for point in points:
        if point.phase not in JUDGED_PHASES or not criterion.judges(point.sample):
            continue
        run = run + 1 if criterion.satisfied_by(point.value) else 0
        if mastered_on is None and run >= criterion.consecutive_sessions:
            mastered_on = point.date
    slope = None
    if points:
        origin = points[0].date
        slope = least_squares_slope([(p.date - origin).days / 7 for p in points], [p.value for p in points])
    return ObjectiveProgress(objective, tuple(points), slope, mastered_on, run, phases)


class Progress:
    """A session's figures and objectives' progress, read from the other parts (`record.progress`)."""

    def __init__(
        self, db: Database, access: Access, caseload: Caseload, sessions: Sessions, events: EventLog
    ) -> None:
        self._db = db
        self._access = access
        self._caseload = caseload
        self._sessions = sessions
        self._events = events

    def summary(self, session_id: int) -> SessionSummary:
        """Figures per client and objective for one session (pending events included, undone ones not)."""
        session = self._sessions.session(session_id)
        self._access.read("summaries", session_id, session.client_ids)
        caseload = self._caseload
        hierarchies = {client_id: caseload.prompt_hierarchy(client_id) for client_id in session.client_ids}
        objectives = [o for c in session.client_ids for o in caseload.objectives(c, include_archived=True)]
        own = {o.id: o.prompt_levels for o in objectives}
        criteria = {o.id: o.criterion for o in objectives}
        return summarise_session(session, self._events.session_events(session_id), hierarchies, own, criteria)

    def objective_progress(
        self, objective_id: int, start: date | None = None, end: date | None = None
    ) -> ObjectiveProgress:
        """One value per session for the objective's criterion metric, its weekly trend and mastery."""
        objective = self._caseload.objective(objective_id)
        self._access.read("progress", objective_id, (objective.client_id,))
        return self._progress_of(objective, self._sessions.sessions(objective.client_id, start, end))

    def client_progress(
        self, client_id: int, start: date | None = None, end: date | None = None
    ) -> list[ObjectiveProgress]:
        """Progress of every active objective of a client (what the review screen and reports show)."""
        self._access.read("progress", "client", (client_id,))
        sessions = self._sessions.sessions(client_id, start, end)
        return [self._progress_of(o, sessions) for o in self._caseload.objectives(client_id)]

    def _progress_of(self, objective: Objective, sessions: Sequence[Session]) -> ObjectiveProgress:
        first_level = self._caseload.objective_hierarchy(objective)[0]
        return objective_progress(
            self._db, objective, sessions, first_level, self._caseload.phases(objective.id)
        )
