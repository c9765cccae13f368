"""A realistic demo practice, so the app, review screens and reports have something to show.

Six clients seen individually across the populations a music therapist serves and a group of three
children who meet as one session (each tap names the child), months of weekly sessions whose data improve
with noise (as real data do), interventions from the shipped library, and SOAP notes for past sessions.
Seeded: the same seed and the same `today` give the same practice.

Clinically coherent, as a supervisor would check it: every plan suits its client's age, population and
format (individual or group, `ClientSpec.fits`); sessions carry only codes a music therapist bills under
(no ABA-technician or psychotherapy codes), with a diagnosis for every billed client; a left-MCA stroke
weakens the right side; pseudonyms are unique and not made from the client's name or initials.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

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
    MasteryCriterion,
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

DataShape = Literal["trials", "count", "cadence", "rating", "duration", "sync", "measure", "sample"]


@dataclass(frozen=True)
class ObjectiveSpec:
    """One objective and how its data evolve: `start` -> `end` level over the months, `plan` used for it."""

    domain: str
    goal: str
    description: str
    criterion: MasteryCriterion
    measure: DataShape
    plan: str
    start: float
    end: float
    label: str = ""
    unit: str = ""
    prompt_levels: tuple[str, ...] = ()
    """The objective's own hierarchy (its plan's, e.g. DSLM's cues), else the client's standard one."""


@dataclass(frozen=True)
class ClientSpec:
    name: str
    pseudonym: str
    age: int
    population: str
    music: str
    setting: str
    weeks: int
    objectives: tuple[ObjectiveSpec, ...]
    opening_plan: str | None = None
    cpt: tuple[str, ...] = ()
    quotes: tuple[str, ...] = field(default=())
    diagnoses: tuple[str, ...] = ()
    fits: tuple[str, ...] = ()
    """The library's population terms this client belongs to: every plan they work on serves one of them
    (`Plan.serves_population`) and suits their age (tests/test_record_demo.py)."""


DEMO_THERAPIST = ("Jordan Rivera", "MT-BC, NMT", "1234567893")
"""Who signs the demo's notes (an NPI with a valid check digit, the CMS documentation's example)."""

# Billing (companion/record/billing.py): a music therapist bills the service given, never an ABA
# technician's codes (97151-97158) nor psychotherapy (908xx), which need another licence. In-home autism
# work and coping-skills work are skills training (H2014, HQ in a group); stroke rehab under the physical
# therapy plan of care is neuromuscular re-education (97112-GP). Clients with no code are private pay,
# facility-contracted or seen under a school IEP.

CLIENTS: tuple[ClientSpec, ...] = (
    ClientSpec(
        name="Leo",
        pseudonym="Client A",
        age=7,
        population="autism spectrum, age 7",
        diagnoses=("F84.0",),
        music="Daniel Tiger songs, Raffi, loud drums",
        setting="in-home",
        weeks=26,
        opening_plan="hello-song-greeting",
        cpt=("H2014",),
        fits=("children with autism",),
        quotes=("more drum please", "my turn!", "big drum, loud"),
        objectives=(
            ObjectiveSpec(
                "communication",
                "Increase functional verbal requests",
                "Requests a preferred instrument with a 2-word phrase",
                MasteryCriterion("percent_independent", 80, 3),
                "trials",
                "choice-making-instruments",
                0.2,
                0.85,
            ),
            ObjectiveSpec(
                "communication",
                "Increase functional verbal requests",
                "Fills in the missing word of a familiar song",
                MasteryCriterion("percent_independent", 80, 3),
                "trials",
                "dslm-fill-in-songs",
                0.35,
                0.9,
                prompt_levels=("independent", "first sound", "sign or picture", "full model"),
            ),
            ObjectiveSpec(
                "social",
                "Engage in reciprocal play",
                "Takes turns on the drum with the therapist (initiations per session)",
                MasteryCriterion("count", 6, 3),
                "count",
                "sycom-turn-taking-drum",
                1.5,
                7.5,
                label="turn initiation",
            ),
            ObjectiveSpec(
                "cognition/academic",
                "Sustain attention to a shared task",
                "Plays with the drum pattern for 3 minutes without leaving the activity",
                MasteryCriterion("duration_seconds", 180, 3),
                "duration",
                "mact-attention-drumming",
                50,
                200,
                label="on task",
            ),
        ),
    ),
    ClientSpec(
        name="Mr. G",
        pseudonym="Client B",
        age=67,
        population="left MCA stroke with right hemiparesis, gait and fine-motor rehab",
        music="Motown, Sam Cooke, big band",
        setting="outpatient rehab clinic",
        weeks=16,
        cpt=("97112-GP",),
        diagnoses=("I69.351",),  # hemiparesis after cerebral infarction, right dominant side
        fits=("stroke",),
        quotes=("the beat makes it easier", "my right foot keeps up now"),
        objectives=(
            ObjectiveSpec(
                "gross motor",
                "Improve gait speed and symmetry",
                "Walks 10 m at >= 100 steps/min with RAS",
                MasteryCriterion("cadence_spm", 100, 3),
                "cadence",
                "ras-gait-training",
                78,
                104,
            ),
            ObjectiveSpec(
                "gross motor",
                "Improve gait speed and symmetry",
                "Walks 10 m in 12 s or less",
                MasteryCriterion("measure_last", 12, 3, "at_most"),
                "measure",
                "ras-gait-training",
                21,
                11,
                label="10 m walk time",
                unit="s",
            ),
            ObjectiveSpec(
                "gross motor",
                "Improve gait speed and symmetry",
                "Sit-to-stand independently with PSE cue",
                MasteryCriterion("percent_independent", 80, 3),
                "trials",
                "pse-sit-to-stand",
                0.25,
                0.85,
            ),
            ObjectiveSpec(
                "gross motor",
                "Improve reach and trunk control",
                "Reaches across midline with the right arm to strike the drum on the beat",
                MasteryCriterion("percent_independent", 80, 3),
                "trials",
                "timp-drum-reach",
                0.3,
                0.9,
            ),
            ObjectiveSpec(
                "fine motor",
                "Improve fine-motor control of the right hand",
                "Plays single notes with right-hand fingers 2-5 in time (>= 70% hits within window)",
                MasteryCriterion("sync_pct_within", 70, 3),
                "sync",
                "keyboard-finger-isolation",
                35,
                78,
            ),
        ),
    ),
    ClientSpec(
        name="Rose",
        pseudonym="Client C",
        age=84,
        population="memory care resident, moderate Alzheimer's dementia",
        diagnoses=("G30.1", "F02.B0"),
        fits=("dementia",),
        music="Glenn Miller, hymns, Frank Sinatra",
        setting="memory care unit, individual sessions in her room",
        weeks=20,
        opening_plan="msot-orientation-song",
        quotes=("we danced to this at the Palladium", "my husband sang this one"),
        objectives=(
            ObjectiveSpec(
                "memory",
                "Maintain long-term recall",
                "Completes the lyric phrase of a familiar song",
                MasteryCriterion("percent_correct", 75, 3),
                "trials",
                "song-recall-reminiscence",
                0.45,
                0.8,
            ),
            ObjectiveSpec(
                "social",
                "Maintain verbal engagement",
                "Shares a memory or comment prompted by a familiar song (per session)",
                MasteryCriterion("count", 5, 3),
                "count",
                "ammt-mood-memory",
                1.5,
                5.5,
                label="memory shared",
            ),
        ),
    ),
    ClientSpec(
        name="Jay",
        pseudonym="Client E",
        age=15,
        population="adolescent, generalised anxiety",
        diagnoses=("F41.1",),
        fits=("adolescents", "anxiety"),
        music="Billie Eilish, lo-fi, Twenty One Pilots",
        setting="school counselling office",
        weeks=18,
        cpt=("H2014",),
        quotes=("the song says what I couldn't", "breathing with the guitar helped"),
        objectives=(
            ObjectiveSpec(
                "anxiety",
                "Use coping strategies for anxiety",
                "Reports anxiety down >= 2 points after a relaxation intervention",
                MasteryCriterion("rating_change", -2, 3, "at_most"),
                "rating",
                "iso-principle-relaxation",
                -0.5,
                -3.0,
                label="anxiety",
            ),
            ObjectiveSpec(
                "anxiety",
                "Use coping strategies for anxiety",
                "Names coping strategies during lyric analysis",
                MasteryCriterion("count", 3, 3),
                "count",
                "lyric-analysis-coping",
                0.5,
                3.5,
                label="coping strategy named",
            ),
        ),
    ),
    ClientSpec(
        name="Dana",
        pseudonym="Client F",
        age=46,
        population="chronic low-back pain",
        diagnoses=("G89.29", "M54.50"),
        fits=("chronic pain",),
        music="Norah Jones, ambient, acoustic folk",
        setting="outpatient pain clinic",
        weeks=14,
        quotes=("I forgot about the pain for a while",),
        objectives=(
            ObjectiveSpec(
                "pain",
                "Reduce perceived pain",
                "Pain rating after session <= 4/10",
                MasteryCriterion("rating_after", 4, 3, "at_most"),
                "rating",
                "iso-principle-relaxation",
                6.5,
                3.5,
                label="pain",
            ),
            ObjectiveSpec(
                "pain",
                "Self-manage pain with relaxation skills",
                "Sustains music-paced breathing (in 4 beats, out 6) for 4 minutes",
                MasteryCriterion("duration_seconds", 240, 3),
                "duration",
                "progressive-muscle-relaxation",
                90,
                260,
                label="paced breathing",
            ),
        ),
    ),
    ClientSpec(
        name="Owen",
        pseudonym="Client H",
        age=9,
        population="ADHD, combined presentation, age 9",
        diagnoses=("F90.2",),
        fits=("ADHD",),
        music="Kidz Bop, Encanto soundtrack",
        setting="elementary school music room (IEP related service)",
        weeks=22,
        quotes=("can we do the fast-slow drums again?",),
        objectives=(
            ObjectiveSpec(
                "emotional/regulation",
                "Regulate energy to the task",
                "Follows the therapist's tempo from fast to slow on the drum (>= 75% hits within window)",
                MasteryCriterion("sync_pct_within", 75, 3),
                "sync",
                "drumming-down-regulation",
                40,
                80,
            ),
            ObjectiveSpec(
                "behavioural",
                "Improve impulse control",
                "Freezes within 2 seconds when the music stops",
                MasteryCriterion("percent_independent", 70, 3),
                "trials",
                "freeze-dance-impulse-control",
                0.3,
                0.75,
            ),
        ),
    ),
)


@dataclass(frozen=True)
class GroupSpec:
    """A group that meets as one session: each member is a client of their own with their own objectives,
    worked in the same order (objective i of every member uses the same plan), so each tap names a client."""

    setting: str
    weeks: int
    opening_plan: str
    members: tuple[ClientSpec, ...]


def _turn_taking(start: float, end: float) -> tuple[ObjectiveSpec, ...]:
    """The objectives every member of the demo group works on, from their own starting point."""
    return (
        ObjectiveSpec(
            "social",
            "Take turns with peers",
            "Waits for the drum cue and plays on their turn",
            MasteryCriterion("percent_independent", 80, 3),
            "trials",
            "sycom-turn-taking-drum",
            start,
            end,
        ),
        ObjectiveSpec(
            "communication",
            "Start interactions with peers",
            "Initiates an interaction with a peer (names, passes, invites)",
            MasteryCriterion("count", 4, 3),
            "count",
            "drum-circle-group-cohesion",
            start * 4,
            end * 6,
            label="peer initiation",
        ),
        ObjectiveSpec(
            "behavioural",
            "Stay with the group activity",
            "On task at the moment of each 30 s sample (momentary time sampling)",
            MasteryCriterion("interval_pct", 80, 3),
            "sample",
            "drum-circle-group-cohesion",
            start + 0.15,
            min(0.95, end + 0.1),
            label="on task",
        ),
    )


GROUPS: tuple[GroupSpec, ...] = (
    GroupSpec(
        setting="community music school, Thursday group",
        weeks=16,
        opening_plan="hello-song-greeting",
        members=tuple(
            ClientSpec(
                name=name,
                pseudonym=pseudonym,
                age=age,
                population=population,
                music=music,
                setting="community music school, Thursday group",
                weeks=16,
                objectives=_turn_taking(start, end),
                cpt=("H2014-HQ",),
                diagnoses=(diagnosis,),
                fits=(*fits, "school groups"),
            )
            for name, pseudonym, age, population, diagnosis, fits, music, start, end in (
                (
                    "Maya",
                    "Client K",
                    10,
                    "autism spectrum, age 10",
                    "F84.0",
                    ("children with autism",),
                    "Taylor Swift, Moana",
                    0.35,
                    0.85,
                ),
                (
                    "Jonah",
                    "Client N",
                    11,
                    "ADHD, age 11",
                    "F90.9",
                    ("ADHD", "children with developmental disabilities"),  # as the CDC counts ADHD
                    "Minecraft music, drums",
                    0.2,
                    0.7,
                ),
                (
                    "Priya",
                    "Client T",
                    9,
                    "Down syndrome, age 9",
                    "Q90.9",
                    ("children with Down syndrome", "children with developmental disabilities"),
                    "Frozen, ukulele songs",
                    0.4,
                    0.9,
                ),
            )
        ),
    ),
)

SUBJECTIVE = (
    "Arrived calm; a good week reported.",
    "Arrived tired after a busy day; warmed up with the first song.",
    "Reported feeling well; asked for a preferred song.",
    "More spontaneous singing at home reported since the last session.",
    "Arrived a little anxious; settled with the familiar routine.",
)
"""Worded for any client, child or adult, with or without a carer (each note draws one)."""
HOME_REPORTS = (
    ("practised", "sang along to the session songs most evenings"),
    ("practised", "played along to the practice recording three times"),
    ("partly", "used the practice recording twice; a busy week"),
    ("not practised", "away over the weekend"),
    ("", ""),
)
"""(home practice, what the client or carers said) as a note records it; ("", "") when it was not asked."""
PLANS = (
    "Continue current interventions; fade prompts as independence increases.",
    "Raise the challenge one step next session (tempo, length or cue) if performance stays stable.",
    "Add a home practice recording of the preferred song.",
    "Keep the structure; offer one new choice of instrument or song.",
)


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
