"""What happened in a session, per client and objective: the figures notes and reports are written from.

Events are grouped by (client, objective); events without an objective form that client's "general"
group, and group-wide events (a tempo marker for the whole drum circle) have no client. The tempo in
force is tracked across the whole session, so "8/10 trials at 84 bpm" knows the metronome setting even
though the tempo marker was logged once, for everybody; switching intervention ends it.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from companion.record.model import DEFAULT_PROMPT_HIERARCHY, Event, MasteryCriterion, Session
from companion.record.payloads import (
    Abc,
    Cadence,
    Count,
    Duration,
    DurationStart,
    DurationStop,
    Intervention,
    Latency,
    Measure,
    Note,
    ObservationStart,
    ObservationStop,
    Rating,
    Sample,
    Sync,
    Tempo,
    Trial,
    Walk,
)
from companion.record.stats import Describe
from companion.record.summary_stats import (
    CadenceStats,
    CountStats,
    DurationStats,
    MeasureStats,
    RatingStats,
    SampleStats,
    SyncStats,
    TempoRange,
    TrialStats,
    WalkStats,
)

GroupKey = tuple[int | None, int | None]  # (client id, objective id)


@dataclass(frozen=True)
class GroupSummary:
    """Everything logged for one client on one objective (objective None = not tied to an objective)."""

    client_id: int | None
    objective_id: int | None
    minutes: float
    observed_minutes: float | None = None
    """Time the objective was observed (its observation windows), None when none was recorded."""
    trials: TrialStats | None = None
    counts: dict[str, CountStats] = field(default_factory=dict)
    durations: dict[str, DurationStats] = field(default_factory=dict)
    latency: Describe | None = None
    ratings: dict[str, RatingStats] = field(default_factory=dict)
    measures: dict[str, MeasureStats] = field(default_factory=dict)
    samples: dict[str, SampleStats] = field(default_factory=dict)
    tempo: TempoRange | None = None
    cadence: CadenceStats | None = None
    walks: WalkStats | None = None
    sync: SyncStats | None = None
    notes: tuple[str, ...] = ()
    abc: tuple[Abc, ...] = ()
    plan_ids: tuple[str, ...] = ()
    criterion: MasteryCriterion | None = None
    """The objective's criterion: how its durations and measures are summarised (None: no objective)."""

    @property
    def count_total(self) -> int:
        return sum(c.total for c in self.counts.values())


@dataclass(frozen=True)
class SessionSummary:
    session: Session
    minutes: float
    groups: tuple[GroupSummary, ...]
    tempo: TempoRange | None
    plan_ids: tuple[str, ...]
    events: int

    def for_objective(self, objective_id: int) -> GroupSummary | None:
        return next((g for g in self.groups if g.objective_id == objective_id), None)

    def for_client(self, client_id: int) -> list[GroupSummary]:
        return [g for g in self.groups if g.client_id == client_id]


def session_minutes(session: Session, events: Sequence[Event]) -> float:
    """The session's length: start to end, or to the last event while it is still running (>= 1 s)."""
    return minutes_until(session, max((e.offset_s for e in events), default=0.0))


def minutes_until(session: Session, last_offset: float) -> float:
    """The session's length, or (still running) the minutes up to `last_offset` seconds, at least 1 s."""
    if session.duration_minutes is not None and session.duration_minutes > 0:
        return session.duration_minutes
    return max(last_offset, 1.0) / 60


def summarise_session(
    session: Session,
    events: Sequence[Event],
    hierarchies: Mapping[int, Sequence[str]] | None = None,
    objective_levels: Mapping[int, Sequence[str]] | None = None,
    criteria: Mapping[int, MasteryCriterion] | None = None,
) -> SessionSummary:
    """Summarise a session's live (not undone) events, in logging order. Trials are scored against their
    objective's own hierarchy (`objective_levels`, by objective id) when it has one, else their client's;
    durations and measures are summarised by their objective's criterion (`criteria`)."""
    minutes = session_minutes(session, events)
    tempo_in_force: dict[GroupKey, list[Tempo]] = defaultdict(list)
    grouped: dict[GroupKey, list[Event]] = defaultdict(list)
    current: Tempo | None = None
    for event in events:
        key = (event.client_id, event.objective_id)
        if isinstance(event.payload, Tempo):
            current = event.payload
            if key != (None, None):
                tempo_in_force[key].append(current)
        elif isinstance(event.payload, Intervention):
            current = None  # a new intervention brings its own tempo (the app logs it again if unchanged)
        elif current is not None and not isinstance(event.payload, Note):
            tempo_in_force[key].append(current)
        grouped[key].append(event)
    clients, objectives = hierarchies or {}, objective_levels or {}

    def levels(key: GroupKey) -> Sequence[str]:
        client, objective = key
        if objective is not None and objectives.get(objective):
            return objectives[objective]
        return (
            clients.get(client, DEFAULT_PROMPT_HIERARCHY) if client is not None else DEFAULT_PROMPT_HIERARCHY
        )

    groups = tuple(
        summarise_group(
            key,
            grouped[key],
            minutes,
            levels(key),
            tempo_in_force.get(key, []),
            (criteria or {}).get(key[1]) if key[1] is not None else None,
        )
        for key in sorted(grouped, key=lambda k: (k[0] is None, k[0] or 0, k[1] is None, k[1] or 0))
    )
    all_tempi = [e.payload for e in events if isinstance(e.payload, Tempo)]
    plans = tuple(dict.fromkeys([*session.plan_ids, *(e.plan_id for e in events if e.plan_id)]))
    return SessionSummary(session, minutes, groups, _tempo_range(all_tempi), plans, len(events))


def summarise_group(
    key: GroupKey,
    events: Sequence[Event],
    minutes: float,
    hierarchy: Sequence[str],
    tempi: Sequence[Tempo],
    criterion: MasteryCriterion | None = None,
) -> GroupSummary:
    """The figures for one (client, objective) group of events from one session."""
    payloads = [e.payload for e in events]
    observed = observed_minutes(events, minutes)
    return GroupSummary(
        client_id=key[0],
        objective_id=key[1],
        minutes=minutes,
        observed_minutes=observed,
        trials=_trials([p for p in payloads if isinstance(p, Trial)], hierarchy),
        counts=_counts([p for p in payloads if isinstance(p, Count)], minutes, observed),
        durations=_durations(events, minutes),
        latency=Describe.of([p.seconds for p in payloads if isinstance(p, Latency)]),
        ratings=_ratings([p for p in payloads if isinstance(p, Rating)]),
        measures=_measures([p for p in payloads if isinstance(p, Measure)]),
        samples=_samples([p for p in payloads if isinstance(p, Sample)]),
        tempo=_tempo_range(tempi),
        cadence=_cadence([p for p in payloads if isinstance(p, Cadence)]),
        walks=_walks([p for p in payloads if isinstance(p, Walk)]),
        sync=_sync([p for p in payloads if isinstance(p, Sync)]),
        notes=tuple(p.text for p in payloads if isinstance(p, Note)),
        abc=tuple(p for p in payloads if isinstance(p, Abc)),
        plan_ids=tuple(dict.fromkeys(e.plan_id for e in events if e.plan_id)),
        criterion=criterion,
    )


def _trials(trials: Sequence[Trial], hierarchy: Sequence[str]) -> TrialStats | None:
    if not trials:
        return None
    first = hierarchy[0] if hierarchy else DEFAULT_PROMPT_HIERARCHY[0]
    tally: dict[str, list[int]] = {level: [0, 0] for level in hierarchy}
    for trial in trials:
        tally.setdefault(trial.prompt_level, [0, 0])[0 if trial.correct else 1] += 1
    return TrialStats(
        n=len(trials),
        correct=sum(1 for t in trials if t.correct),
        independent=sum(1 for t in trials if t.correct and t.prompt_level == first),
        by_level={level: (c, i) for level, (c, i) in tally.items() if c or i},
        no_response=sum(1 for t in trials if t.outcome == "no response"),
        refused=sum(1 for t in trials if t.outcome == "refused"),
    )


def _counts(counts: Sequence[Count], minutes: float, observed: float | None) -> dict[str, CountStats]:
    totals: dict[str, int] = defaultdict(int)
    for count in counts:
        totals[count.label] += count.delta
    over = observed if observed else minutes
    return {label: CountStats(total, total / over, bool(observed)) for label, total in totals.items()}


def observed_minutes(events: Sequence[Event], minutes: float) -> float | None:
    """Minutes inside the group's observation windows (a window still open runs to the session's end);
    None when it has none."""
    opened: float | None = None
    total, windows = 0.0, 0
    for event in events:
        if isinstance(event.payload, ObservationStart) and opened is None:
            opened = event.offset_s
        elif isinstance(event.payload, ObservationStop) and opened is not None:
            total, windows, opened = total + max(0.0, event.offset_s - opened), windows + 1, None
    if opened is not None:
        total, windows = total + max(0.0, minutes * 60 - opened), windows + 1
    return max(total, 1.0) / 60 if windows else None


def _durations(events: Sequence[Event], minutes: float) -> dict[str, DurationStats]:
    started: dict[str, float] = {}
    values: dict[str, list[float]] = defaultdict(list)
    for event in events:
        payload = event.payload
        if isinstance(payload, DurationStart):
            started.setdefault(payload.label, event.offset_s)
        elif isinstance(payload, DurationStop) and payload.label in started:
            values[payload.label].append(max(0.0, event.offset_s - started.pop(payload.label)))
        elif isinstance(payload, Duration):
            values[payload.label].append(payload.seconds)
    for label, start in started.items():
        values[label].append(max(0.0, minutes * 60 - start))
    return {
        label: DurationStats(sum(taken), len(taken), 1 if label in started else 0, tuple(taken))
        for label, taken in values.items()
    }


def _ratings(ratings: Sequence[Rating]) -> dict[str, RatingStats]:
    by_label: dict[str, list[Rating]] = defaultdict(list)
    for rating in ratings:
        by_label[rating.label].append(rating)

    def mean_of(items: list[Rating], phase: str) -> float | None:
        values = [r.value for r in items if r.phase == phase]
        return statistics.fmean(values) if values else None

    return {
        label: RatingStats(
            label=label,
            scale=items[0].scale,
            before=mean_of(items, "before"),
            during=tuple(r.value for r in items if r.phase == "during"),
            after=mean_of(items, "after"),
        )
        for label, items in by_label.items()
    }


def _measures(measures: Sequence[Measure]) -> dict[str, MeasureStats]:
    """Per label: the last value taken before, the last after (a re-measure replaces a slip, it is not
    averaged in) and the latest of all. Values in another unit than the label's first are kept apart, under
    "label (unit)", never mixed."""
    by_label: dict[str, list[Measure]] = defaultdict(list)
    units: dict[str, str] = {}
    for measure in measures:
        first = units.setdefault(measure.label, measure.unit)
        by_label[measure.label if measure.unit == first else f"{measure.label} ({measure.unit})"].append(
            measure
        )

    def last_of(items: list[Measure], phase: str) -> float | None:
        values = [m.value for m in items if m.phase == phase]
        return values[-1] if values else None

    return {
        label: MeasureStats(
            label,
            items[0].unit,
            last_of(items, "before"),
            last_of(items, "after"),
            items[-1].value,
            len(items),
            tuple(m.value for m in items),
        )
        for label, items in by_label.items()
    }


def _samples(samples: Sequence[Sample]) -> dict[str, SampleStats]:
    """Per behaviour and method (a momentary and a partial-interval figure never pool: they measure
    different things)."""
    grouped: dict[tuple[str, str], list[Sample]] = defaultdict(list)
    for sample in samples:
        grouped[(sample.label, sample.method)].append(sample)
    methods_per_label = Counter(label for label, _ in grouped)
    return {
        (label if methods_per_label[label] == 1 else f"{label} ({method})"): SampleStats(
            label, method, items[0].interval_s, len(items), sum(1 for s in items if s.occurred)
        )
        for (label, method), items in grouped.items()
    }


def _tempo_range(tempi: Sequence[Tempo]) -> TempoRange | None:
    if not tempi:
        return None
    bpms = [t.bpm for t in tempi]
    return TempoRange(min(bpms), max(bpms), tuple(dict.fromkeys(t.meter for t in tempi)))


def _cadence(cadences: Sequence[Cadence]) -> CadenceStats | None:
    if not cadences:
        return None
    return CadenceStats(
        first=cadences[0].steps_per_min,
        last=cadences[-1].steps_per_min,
        maximum=max(c.steps_per_min for c in cadences),
        mean_cv=statistics.fmean(c.cv for c in cadences),
        measurements=len(cadences),
    )


def _walks(walks: Sequence[Walk]) -> WalkStats | None:
    """Walks over the session's first distance (a 6 m walk is not averaged with a 10 m one: velocity over
    a short distance includes more of the start)."""
    if not walks:
        return None
    same = [w for w in walks if w.distance_m == walks[0].distance_m]
    return WalkStats(
        distance_m=walks[0].distance_m,
        velocities=tuple(w.velocity_m_s for w in same),
        cadences=tuple(c for w in same if (c := w.cadence_spm) is not None),
        strides=tuple(s for w in same if (s := w.stride_m) is not None),
        conditions=tuple(dict.fromkeys(w.condition for w in same if w.condition)),
    )


def _weighted_mean(values: Sequence[float], weights: Sequence[int]) -> float:
    return sum(v * w for v, w in zip(values, weights, strict=True)) / sum(weights)


def _sync(syncs: Sequence[Sync]) -> SyncStats | None:
    """Pool per-exercise sync figures: `pct_within` is a share of beats, asynchrony a mean over matched hits,
    so each is weighted by what it was computed over (extras are hits that matched no beat)."""
    if not syncs:
        return None
    hits = sum(s.n_hits for s in syncs)
    beats = [s.n_hits - s.extra + s.missed for s in syncs]
    matched = [max(s.n_hits - s.extra, 1) for s in syncs]
    beat_weights = [max(b, 1) for b in beats]
    return SyncStats(
        exercises=len(syncs),
        mean_asynchrony_ms=_weighted_mean([s.mean_asynchrony_ms for s in syncs], matched),
        mean_sd_ms=statistics.fmean(s.sd_ms for s in syncs),
        mean_r=statistics.fmean(s.r for s in syncs),
        pct_within=_weighted_mean([s.pct_within for s in syncs], beat_weights),
        beats=sum(beats),
        hits=hits,
        missed=sum(s.missed for s in syncs),
        extra=sum(s.extra for s in syncs),
    )
