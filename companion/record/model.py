"""The records a therapist keeps: clients, goals, objectives, sessions and the events logged in them.

Plain frozen dataclasses: the store creates them from rows, the app and the documents read them. They
carry ids rather than nested objects so a session screen can hold them cheaply and a second process can
always re-read the truth from the database.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from companion.record.payloads import Payload
from interventions.vocabulary import GoalDomain

DEFAULT_PROMPT_HIERARCHY: tuple[str, ...] = ("independent", "gestural", "verbal", "model", "physical")

OTHER_DOMAIN = "other"
"""For a goal that fits no domain yet (and for goals filed under a name no longer in the list)."""
DOMAINS: tuple[str, ...] = (*(domain.value for domain in GoalDomain), OTHER_DOMAIN)
"""The domains a goal can be filed under: the plans' own list (`GoalDomain`), plus "other"."""


def goal_domain(text: str) -> str:
    """The domain a goal is filed under, from what the user typed ("cognition", "Gross-Motor", "other").

    Raises ValueError naming the choices for an unknown name or one that names two domains ("motor")."""
    if not text.strip() or text.strip().casefold() == OTHER_DOMAIN:
        return OTHER_DOMAIN
    return GoalDomain.one(text).value


Metric = Literal[
    "percent_correct",
    "percent_independent",
    "count_per_minute",
    "count",
    "duration_seconds",
    "latency_seconds",
    "rating_after",
    "rating_change",
    "cadence_spm",
    "sync_pct_within",
    "measure_last",
    "interval_pct",
    "gait_velocity",
]
METRICS: tuple[str, ...] = (
    "percent_correct",
    "percent_independent",
    "count_per_minute",
    "count",
    "duration_seconds",
    "latency_seconds",
    "rating_after",
    "rating_change",
    "cadence_spm",
    "sync_pct_within",
    "measure_last",
    "interval_pct",
    "gait_velocity",
)
Direction = Literal["at_least", "at_most"]
Summary = Literal["sum", "best", "first", "last", "mean", "change"]
SUMMARIES: tuple[str, ...] = ("sum", "best", "first", "last", "mean", "change")
SUMMARISED_METRICS: dict[str, Summary] = {
    "duration_seconds": "sum",
    "measure_last": "last",
    "gait_velocity": "mean",
}
"""The metrics whose session value is one of several takes, and how a session is summarised when the
objective names no rule: time on task adds up, a measure's latest take stands, timed walks give their
mean velocity (as the 10-metre walk test is scored). A longest sustained vowel is the best attempt, a
range of motion before and after the exercise is the change."""
SUMMARY_WORDS: dict[str, str] = {
    "sum": "total",
    "best": "best",
    "first": "first",
    "last": "last",
    "mean": "mean",
    "change": "change before to after",
}

OPPORTUNITY_WORDS = {"percent_correct": "trials", "percent_independent": "trials", "sync_pct_within": "hits"}
DEFAULT_MIN_OPPORTUNITIES: dict[str, int] = {
    "percent_correct": 10,
    "percent_independent": 10,
    "sync_pct_within": 10,
}
"""Opportunities a session needs before its percentage may count toward mastery, when the objective names
no minimum. ABA data sheets write "80% over 3 consecutive sessions, at least 10 opportunities each": 1 of 1
trials is 100% and says nothing. Other metrics are one measurement a session (a cadence, a rating)."""


@dataclass(frozen=True)
class MasteryCriterion:
    """When an objective counts as met, e.g. percent_independent >= 80 over 3 consecutive sessions."""

    metric: Metric = "percent_independent"
    threshold: float = 80.0
    consecutive_sessions: int = 3
    direction: Direction = "at_least"
    min_opportunities: int | None = None
    """Trials (hits, measurements) a session needs to count toward mastery; None: the metric's default."""
    summary: Summary | None = None
    """How a session's several takes of a duration or measure make its one value (`SUMMARIES`); None: the
    metric's default (`SUMMARISED_METRICS`)."""

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"unknown metric {self.metric!r}; choose one of {', '.join(METRICS)}")
        if self.consecutive_sessions < 1:
            raise ValueError("consecutive_sessions must be at least 1")
        if self.direction not in ("at_least", "at_most"):
            raise ValueError("direction must be 'at_least' or 'at_most'")
        if self.min_opportunities is not None and self.min_opportunities < 1:
            raise ValueError("min_opportunities must be at least 1")
        if self.summary is not None:
            if self.metric not in SUMMARISED_METRICS:
                metrics = " and ".join(SUMMARISED_METRICS)
                raise ValueError(f"a session summary (--summary) is for {metrics}, not {self.metric}")
            if self.summary not in SUMMARIES:
                raise ValueError(f"unknown summary {self.summary!r}; choose one of {', '.join(SUMMARIES)}")
            if self.summary == "change" and self.metric != "measure_last":
                raise ValueError("'change' (after minus before) is for measures, taken before and after")

    @property
    def summary_rule(self) -> Summary | None:
        """How a session's takes make its value (None for metrics that are one figure a session)."""
        return self.summary or SUMMARISED_METRICS.get(self.metric)

    @property
    def lower_is_better(self) -> bool:
        """A walk's seconds shrink as the client improves: the best take is the least."""
        return self.direction == "at_most"

    @property
    def minimum(self) -> int:
        """The opportunities a session needs to be judged against the criterion."""
        if self.min_opportunities is not None:
            return self.min_opportunities
        return DEFAULT_MIN_OPPORTUNITIES.get(self.metric, 1)

    def judges(self, sample: int) -> bool:
        """Enough opportunities in a session to say whether it met the criterion."""
        return sample >= self.minimum

    def satisfied_by(self, value: float) -> bool:
        return value >= self.threshold if self.direction == "at_least" else value <= self.threshold

    def describe(self) -> str:
        sign = ">=" if self.direction == "at_least" else "<="
        label = self.metric.removesuffix("_last").replace("_", " ")
        if self.summary_rule is not None and self.summary_rule != SUMMARISED_METRICS[self.metric]:
            label += f" ({SUMMARY_WORDS[self.summary_rule]} of the session)"
        text = f"{label} {sign} {self.threshold:g} over {self.consecutive_sessions} consecutive sessions"
        if self.minimum > 1:
            text += f", at least {self.minimum} {OPPORTUNITY_WORDS.get(self.metric, 'opportunities')} each"
        return text


@dataclass(frozen=True)
class Client:
    """A client by display name or pseudonym; the optional birth year is left out of de-identified exports."""

    id: int
    display_name: str
    birth_year: int | None = None
    pseudonym: str | None = None
    population: str = ""
    preferred_music: str = ""
    preferred_songs: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    archived: bool = False
    diagnoses: tuple[str, ...] = ()
    """ICD-10-CM codes, e.g. I69.351 (hemiplegia after stroke), F84.0 (autism); optional."""
    owner_id: int | None = None
    """The member of staff whose caseload the client is on (None in a solo practice, or not assigned)."""


@dataclass(frozen=True)
class Goal:
    """A treatment-plan goal in one domain (communication, motor, ...)."""

    id: int
    client_id: int
    domain: str
    description: str
    created_at: str = ""
    archived: bool = False


@dataclass(frozen=True)
class Objective:
    """A measurable objective under a goal, with the criterion that says when it is mastered."""

    id: int
    goal_id: int
    client_id: int
    description: str
    criterion: MasteryCriterion = field(default_factory=MasteryCriterion)
    target: str = ""
    created_at: str = ""
    archived: bool = False
    prompt_levels: tuple[str, ...] = ()
    """The objective's own prompt hierarchy, most independent first (MIT's unison ... independent is not
    an ABA hierarchy); empty: the client's. Trials on it are scored against it."""


PHASES: tuple[str, ...] = ("baseline", "intervention", "probe", "maintenance", "generalisation")
"""An objective's phases, as single-case designs keep them: data before teaching (baseline), while teaching
(intervention), spot checks without teaching (probe), after mastery (maintenance) and elsewhere, with other
people or material (generalisation). An objective with no phase set is in intervention."""
JUDGED_PHASES = frozenset({"intervention", "probe"})
"""The phases whose sessions count toward mastery: a baseline is before teaching, maintenance and
generalisation come after it was met."""


@dataclass(frozen=True)
class ObjectivePhase:
    """From `since` (a session date) on, the objective is in `phase`, until the next one."""

    objective_id: int
    phase: str
    since: date


@dataclass(frozen=True)
class Session:
    """One session with one client or a group; times are UTC ISO strings, `date` the local session date."""

    id: int
    client_ids: tuple[int, ...]
    date: date
    started_at: str
    ended_at: str | None
    setting: str
    plan_ids: tuple[str, ...] = ()
    cpt_codes: tuple[str, ...] = ()
    second_observer_of: int | None = None
    """Set on a second observer's session (inter-observer agreement): the session it observed. Such a
    session is never part of the record's summaries, progress or notes."""
    present: str = ""
    """Who else was there (caregiver, co-treating discipline), as the note says it."""
    modality: str = "in person"
    """`MODALITIES`: in person, or telehealth by video or audio only (payers code them apart)."""

    @property
    def is_group(self) -> bool:
        return len(self.client_ids) > 1

    @property
    def duration_minutes(self) -> float | None:
        if self.ended_at is None:
            return None
        delta = datetime.fromisoformat(self.ended_at) - datetime.fromisoformat(self.started_at)
        return delta.total_seconds() / 60


@dataclass(frozen=True)
class EventDraft:
    """What the app hands to `record.events.log`: the payload plus whom and what it is about.

    `wall_time`/`offset_s` are normally left empty and stamped at the moment of the tap; they are set
    explicitly only when importing or generating historical data.
    """

    payload: Payload
    client_id: int | None = None
    objective_id: int | None = None
    plan_id: str | None = None
    wall_time: datetime | None = None
    offset_s: float | None = None


@dataclass(frozen=True)
class Event:
    """A stored (or pending) event. `id` is assigned at the tap, so an event keeps it while pending."""

    id: str
    session_id: int
    client_id: int | None
    objective_id: int | None
    plan_id: str | None
    wall_time: str
    offset_s: float
    payload: Payload

    @property
    def kind(self) -> str:
        return self.payload.kind


@dataclass(frozen=True)
class SessionNote:
    """A SOAP note for one client in one session; Objective is drafted from data, the rest is typed."""

    session_id: int
    client_id: int
    subjective: str = ""
    objective: str = ""
    observations: str = ""
    """What the therapist saw beyond the figures (part of the O): typed, so a redraft of the Objective
    from the data never touches it."""
    assessment: str = ""
    plan: str = ""
    home_practice: str = ""
    """Home carry-over since the last session as the carers report it: one of HOME_PRACTICE, or "" when
    not asked (counted apart in the quarterly report)."""
    home_report: str = ""
    """What the carers said about practising at home, in a few words."""
    updated_at: str = ""
    finalised: bool = False
    signed_by: str = ""
    """The therapist's name and credential as signed when the note was finalised."""
    signed_npi: str = ""
    """The signer's NPI as it was when they signed ("": none then, or signed before notes kept it)."""
    signed_at: str | None = None
    cosigned_by: str = ""
    """The supervisor's name and credential as co-signed, when a supervisor reviewed the finalised note."""
    cosigned_at: str | None = None


@dataclass(frozen=True)
class Addendum:
    """A late entry on a finalised note: dated and signed on its own, the note itself never rewritten."""

    session_id: int
    client_id: int
    text: str
    written_at: str
    signed_by: str


MODALITIES: tuple[str, ...] = ("in person", "telehealth video", "telehealth audio")
HOME_PRACTICE: tuple[str, ...] = ("practised", "partly", "not practised")
ATTENDANCE: tuple[str, ...] = ("attended", "late", "left early", "cancelled", "no-show")
CANCELLED_BY: tuple[str, ...] = ("client", "therapist", "facility")


@dataclass(frozen=True)
class Attendance:
    """One client's attendance on one day; `minutes`: how late, or how early they left."""

    client_id: int
    day: date
    status: str
    cancelled_by: str = ""
    minutes: int = 0
    session_id: int | None = None


@dataclass(frozen=True)
class Therapist:
    """Who signs the notes: name, credential (MT-BC, NMT ...) and, optionally, the NPI a claim needs."""

    name: str = ""
    credential: str = ""
    npi: str = ""

    @property
    def signature(self) -> str:
        """E.g. "Jane Doe, MT-BC, NMT" (empty until a name is set)."""
        return ", ".join(part for part in (self.name.strip(), self.credential.strip()) if part)


def summarise_takes(
    rule: Summary, values: Sequence[float], lower_is_better: bool = False, change: float | None = None
) -> float | None:
    """A session's one value from its takes, in the order taken (`change`: the after-minus-before figure,
    worked out by the caller from the takes' phases). None when the rule has nothing to stand on."""
    if rule == "change":
        return change
    if not values:
        return None
    match rule:
        case "sum":
            return float(sum(values))
        case "best":
            return float(min(values) if lower_is_better else max(values))
        case "first":
            return float(values[0])
        case "mean":
            return statistics.fmean(values)
    return float(values[-1])
