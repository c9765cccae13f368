"""Generating the demo practice into a record: each client's goals and objectives, then months of weekly
sessions whose events follow each objective's curve with noise, second observers, and drafted notes."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from companion.demo.practice import (
    CLIENTS,
    DEMO_THERAPIST,
    GROUPS,
    HOME_REPORTS,
    PLANS,
    SUBJECTIVE,
    ClientSpec,
    GroupSpec,
    ObjectiveSpec,
)
from companion.documents.soap import draft_note
from companion.record import (
    DEFAULT_PROMPT_HIERARCHY,
    Cadence,
    Count,
    DurationStart,
    DurationStop,
    EventDraft,
    Intervention,
    Latency,
    Measure,
    Note,
    Objective,
    Rating,
    Record,
    Sample,
    Session,
    Sync,
    Tempo,
    Trial,
)
from companion.record.clock import parse
from companion.record.payloads import Payload


def _level(spec: ObjectiveSpec, progress: float, rng: random.Random, noise: float) -> float:
    """Where the client is on this objective: an easing curve from start to end, plus session noise."""
    eased = 1 - math.exp(-3 * progress)
    return spec.start + (spec.end - spec.start) * eased / (1 - math.exp(-3)) + rng.gauss(0, noise)


def _trials(spec: ObjectiveSpec, progress: float, rng: random.Random, objective_id: int) -> list[EventDraft]:
    p_independent = min(0.97, max(0.02, _level(spec, progress, rng, 0.08)))
    levels = spec.prompt_levels or DEFAULT_PROMPT_HIERARCHY
    drafts = []
    for _ in range(10):
        roll = rng.random()
        if roll < p_independent:
            payload = Trial(True, levels[0])
        elif roll < p_independent + (1 - p_independent) * 0.6:
            payload = Trial(True, rng.choice(levels[1:-1]))
        else:
            payload = Trial(False, rng.choice(levels[2:]))
        drafts.append(EventDraft(payload, objective_id=objective_id))
    return drafts


def _events_for(
    spec: ObjectiveSpec, progress: float, rng: random.Random, objective_id: int
) -> list[EventDraft]:
    """The events one objective produces in one session, in order."""
    level = _level(spec, progress, rng, abs(spec.end - spec.start) * 0.08)
    payloads: list[Payload] = []
    if spec.measure == "trials":
        return _trials(spec, progress, rng, objective_id)
    if spec.measure == "count":
        payloads = [Count(spec.label) for _ in range(max(0, round(level + rng.gauss(0, 0.7))))]
        payloads.append(Latency(round(max(0.5, 6 - 4 * progress + rng.gauss(0, 0.8)), 1)))
    elif spec.measure == "duration":
        payloads = [DurationStart(spec.label), DurationStop(spec.label)]
    elif spec.measure == "rating":
        before = min(10.0, max(0.0, round(rng.uniform(5, 8) if spec.start < 0 else level + 1.5)))
        after = before + level if spec.start < 0 else level
        payloads = [
            Rating(spec.label, before, phase="before"),
            Rating(spec.label, round(min(10, max(0, after))), phase="after"),
        ]
    elif spec.measure == "sample":  # ten 30 s momentary samples: on task with the probability reached
        on_task = min(0.98, max(0.02, level))
        payloads = [Sample(spec.label, rng.random() < on_task, "momentary", 30.0) for _ in range(10)]
    elif spec.measure == "measure":  # timed before and after the work: the after is the session's figure
        payloads = [
            Measure(spec.label, round(level + rng.uniform(0.5, 2.5), 1), spec.unit, "before"),
            Measure(spec.label, round(level, 1), spec.unit, "after"),
        ]
    elif spec.measure == "cadence":
        baseline = max(60.0, level - 6)
        payloads = [Cadence(round(baseline, 1), round(rng.uniform(0.06, 0.12), 3), 20)]
        for step in (1.0, 1.05, 1.1):
            payloads += [Tempo(round(baseline * step), "2/4", "metronome")]
            payloads += [
                Cadence(
                    round(min(level, baseline * step) + rng.gauss(0, 1.5), 1),
                    round(rng.uniform(0.04, 0.1), 3),
                    24,
                )
            ]
    elif spec.measure == "sync":
        within = min(98.0, max(5.0, level))
        hits = rng.randint(28, 40)
        payloads = [
            Tempo(rng.choice((72, 80, 84, 90)), "4/4"),
            Sync(
                mean_asynchrony_ms=round(rng.gauss(-25 + 15 * progress, 8), 1),
                sd_ms=round(max(8.0, 70 - 40 * progress + rng.gauss(0, 6)), 1),
                r=round(min(0.99, max(0.1, within / 100 + 0.1)), 2),
                pct_within=round(within, 1),
                n_hits=hits,
                missed=max(0, round((100 - within) / 12 + rng.gauss(0, 1))),
                extra=max(0, round(rng.gauss(2, 1.5))),
                tempo_bpm=84,
            ),
        ]
    return [EventDraft(p, objective_id=objective_id) for p in payloads]


def _timed(
    drafts: Sequence[EventDraft], start: datetime, minutes: float, durations: dict[str, float]
) -> list[EventDraft]:
    """Spread drafts over the session, giving duration stops their measured length."""
    step = minutes * 60 / (len(drafts) + 1)
    timed: list[EventDraft] = []
    opened: dict[str, float] = {}
    clock = 30.0
    for draft in drafts:
        payload = draft.payload
        if isinstance(payload, DurationStop):
            clock = opened[payload.label] + durations[payload.label]
        elif isinstance(payload, DurationStart):
            opened[payload.label] = clock
        timed.append(
            EventDraft(
                payload,
                objective_id=draft.objective_id,
                plan_id=draft.plan_id,
                wall_time=start + timedelta(seconds=clock),
            )
        )
        clock += step
    return timed


def _session_drafts(
    spec: ClientSpec, objectives: Sequence[Objective], progress: float, rng: random.Random
) -> tuple[list[EventDraft], dict[str, float]]:
    drafts: list[EventDraft] = []
    durations: dict[str, float] = {}
    if spec.opening_plan:
        drafts.append(EventDraft(Intervention(spec.opening_plan)))
    for objective_spec, objective in zip(spec.objectives, objectives, strict=True):
        drafts.append(EventDraft(Intervention(objective_spec.plan)))
        drafts += _events_for(objective_spec, progress, rng, objective.id)
        if objective_spec.measure == "duration":
            durations[objective_spec.label] = max(10.0, _level(objective_spec, progress, rng, 20))
    if rng.random() < 0.5 and spec.quotes:
        drafts.append(EventDraft(Note(rng.choice(spec.quotes))))
    return drafts, durations


def _add_client(record: Record, spec: ClientSpec, today: date) -> tuple[int, list[Objective]]:
    client = record.caseload.add_client(
        spec.name,
        birth_year=today.year - spec.age,
        pseudonym=spec.pseudonym,
        population=spec.population,
        preferred_music=spec.music,
    )
    if spec.diagnoses:
        record.caseload.update_client(client.id, diagnoses=spec.diagnoses)
    goals: dict[str, int] = {}
    objectives = []
    for objective_spec in spec.objectives:
        if objective_spec.goal not in goals:
            goals[objective_spec.goal] = record.caseload.add_goal(
                client.id, objective_spec.domain, objective_spec.goal
            ).id
        objectives.append(
            record.caseload.add_objective(
                goals[objective_spec.goal],
                objective_spec.description,
                objective_spec.criterion,
                prompt_levels=objective_spec.prompt_levels,
            )
        )
    return client.id, objectives


def generate_demo(record: Record, today: date | None = None, seed: int = 2024) -> int:
    """Fill an empty record with the demo practice; returns the number of sessions created."""
    rng = random.Random(seed)
    today = today or date.today()
    created = 0
    record.notes.set_therapist(*DEMO_THERAPIST)
    for index, spec in enumerate(CLIENTS):
        client_id, objectives = _add_client(record, spec, today)
        first_day = today - timedelta(weeks=spec.weeks)
        for week in range(spec.weeks):
            if rng.random() < 0.08:  # a missed week: illness, holidays
                continue
            day = first_day + timedelta(weeks=week, days=index % 5)
            start = datetime.combine(day, time(9 + index, 30), tzinfo=UTC)
            minutes = rng.choice((30, 45, 45, 60))
            session = record.sessions.start_session(
                [client_id], spec.setting, started_at=start, cpt_codes=spec.cpt
            )
            drafts, durations = _session_drafts(spec, objectives, week / max(1, spec.weeks - 1), rng)
            _finish_session(record, session, _timed(drafts, start, minutes, durations), minutes, rng)
            created += 1
    for group in GROUPS:
        created += _group_sessions(record, group, today, rng)
    return created


def _group_sessions(record: Record, group: GroupSpec, today: date, rng: random.Random) -> int:
    """Weekly sessions of one group: every member's taps in one session, a note per member."""
    members = [_add_client(record, spec, today) for spec in group.members]
    client_ids = [client_id for client_id, _ in members]
    first_day = today - timedelta(weeks=group.weeks)
    created = 0
    for week in range(group.weeks):
        if rng.random() < 0.08:
            continue
        start = datetime.combine(first_day + timedelta(weeks=week, days=3), time(16, 0), tzinfo=UTC)
        progress = week / max(1, group.weeks - 1)
        drafts = [EventDraft(Intervention(group.opening_plan))]
        for index, objective_spec in enumerate(group.members[0].objectives):
            drafts.append(EventDraft(Intervention(objective_spec.plan)))
            for spec, (_, objectives) in zip(group.members, members, strict=True):
                drafts += _events_for(spec.objectives[index], progress, rng, objectives[index].id)
        session = record.sessions.start_session(
            client_ids, group.setting, started_at=start, cpt_codes=group.members[0].cpt
        )
        timed = _timed(drafts, start, 50, {})
        _finish_session(record, session, timed, 50, rng)
        created += 1
        if week % IOA_EVERY_WEEKS == 0:
            _second_observer(record, session, timed, rng)
    return created


IOA_EVERY_WEEKS = 4
"""How often a second observer takes the group's data for agreement (ABA asks for IOA in at least 20-33 %
of sessions)."""


def _second_observer(
    record: Record, session: Session, timed: Sequence[EventDraft], rng: random.Random
) -> None:
    """A colleague's blind record of the same session: the same taps, with a few scored otherwise and a few
    counts missed, as real observers differ."""
    observer = record.sessions.start_session(
        session.client_ids,
        session.setting,
        started_at=parse(session.started_at),
        second_observer_of=session.id,
    )
    seen: list[EventDraft] = []
    for draft in timed:
        payload = draft.payload
        differs = rng.random() < 0.1
        if isinstance(payload, Trial):
            seen.append(replace(draft, payload=replace(payload, correct=payload.correct != differs)))
        elif isinstance(payload, Sample):
            seen.append(replace(draft, payload=replace(payload, occurred=payload.occurred != differs)))
        elif isinstance(payload, Count) and not differs:
            seen.append(draft)
    record.events.log_many(observer.id, seen)
    record.sessions.end_session(observer.id, ended_at=parse(session.started_at) + timedelta(minutes=50))


def _finish_session(
    record: Record, session: Session, drafts: Sequence[EventDraft], minutes: int, rng: random.Random
) -> None:
    """Log a session's events, end it `minutes` after its start and save a finalised note per client."""
    record.events.log_many(session.id, drafts)
    record.sessions.end_session(session.id, ended_at=parse(session.started_at) + timedelta(minutes=minutes))
    for client_id in session.client_ids:
        note = draft_note(record, session.id, client_id)
        # Its own generator, so that adding home practice left every other demo figure as it was.
        practice, said = random.Random(session.id * 7919 + client_id).choice(HOME_REPORTS)
        note = replace(note, subjective=rng.choice(SUBJECTIVE), plan=rng.choice(PLANS), finalised=True)
        record.notes.save_note(replace(note, home_practice=practice, home_report=said))
