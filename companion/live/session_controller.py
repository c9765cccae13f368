"""The live session behind the session screen: one tap becomes one durable event, and what to show for it.

Why a Textual-free module: the rules of a running session must hold whether taps come from a terminal, a
browser tab or a test. Which client and objective a tap belongs to; that the tempo in force is logged just
before the trial it applies to; that undo cancels the therapist's last *tap* (never a tempo marker or an
intervention switch); that an entry the disk refused is kept, shown as pending and retried, never dropped.
The screen only draws what this module returns.

Threading: `draft_*` methods only capture the current selection (no I/O) and run on the UI thread, so a
tap belongs to the objective that was selected when the key was pressed. Everything that touches the
disk (`commit`, `undo_last`, `switch_plan`, `retry`, `settle_tempo`, `end`) runs in order on one
`TapWriter` thread, so a locked or slow disk never freezes the screen and taps keep their order.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeVar

from companion.documents.wording import (
    duration_figure,
    measure_figure,
    num,
    pct,
    plan_label,
    seconds,
    walk_figures,
)
from companion.record import (
    Abc,
    Cadence,
    Client,
    Count,
    Duration,
    DurationStart,
    DurationStop,
    Event,
    EventDraft,
    GroupSummary,
    Intervention,
    Latency,
    Measure,
    Note,
    Objective,
    ObservationStart,
    ObservationStop,
    Payload,
    Rating,
    Record,
    Sample,
    Session,
    StorageError,
    Sync,
    Tempo,
    Tombstone,
    Trial,
    Walk,
)
from companion.record.clock import parse
from companion.record.payloads import RatingPhase
from companion.record.summaries import summarise_group
from interventions import DEFAULT_PROMPT_LEVELS, DataKind, DataTap, Library, Plan

T = TypeVar("T")

TAP_KINDS = frozenset(
    {
        "trial",
        "count",
        "duration_start",
        "duration_stop",
        "duration",
        "latency",
        "rating",
        "measure",
        "sample",
        "abc",
        "note",
        "cadence",
        "walk",
        "observation_start",
        "observation_stop",
    }
)
"""Events the therapist makes with a key or a touch: the ones `undo` may cancel."""

TALLIED = TAP_KINDS | {"cadence", "sync"}
"""Events that count towards an objective's running figures (not tempo markers or plan switches)."""

DEFAULT_LABELS = {DataKind.COUNT: "count", DataKind.DURATION: "time on task", DataKind.RATING: "engagement"}
DEFAULT_SCALE = (0.0, 10.0)

DurationKey = tuple[int | None, int | None, str]  # (client, objective, label)


@dataclass(frozen=True)
class SessionRequest:
    """Whom a session is with, where, and which plan opens it: what the start dialog asks."""

    client_ids: tuple[int, ...]
    setting: str
    plan_id: str | None
    second_observer_of: int | None = None
    """A second observer's blind record of this open session (inter-observer agreement)."""


@dataclass(frozen=True)
class LogEntry:
    """One line of the live log: the event, whether it is on disk, and whether it was undone."""

    event: Event
    saved: bool
    problem: str = ""
    undone: bool = False

    @property
    def id(self) -> str:
        return self.event.id


@dataclass(frozen=True)
class Update:
    """What one writer operation changed: entries to add or redraw (log order) and any storage problem."""

    entries: tuple[LogEntry, ...] = ()
    problem: str | None = None


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


@dataclass(frozen=True)
class Tally:
    """The running figures of one objective (or a client's untargeted data) in this session."""

    client_id: int
    objective: Objective | None
    number: int
    summary: GroupSummary | None
    running: tuple[str, ...] = ()  # duration labels being timed now
    observing: bool = False  # an observation window is open on this objective

    @property
    def label(self) -> str:
        if self.objective is None:
            return "General"
        return f"{self.number}. {self.objective.description}"

    def headline(self) -> str:
        """E.g. "7/9 correct · 78% independent · turn initiation 4 · on task 2 min 5 s (timing)"."""
        summary = self.summary
        if summary is None:
            return "no data yet"
        parts = []
        if summary.trials is not None:
            trials = summary.trials
            parts.append(f"{trials.correct}/{trials.n} correct · {pct(trials.pct_independent)} independent")
            parts += [
                f"{n} {what}" for n, what in ((trials.no_response, "NR"), (trials.refused, "refused")) if n
            ]
        if summary.observed_minutes is not None:
            watching = " (observing)" if self.observing else ""
            parts.append(f"observed {seconds(summary.observed_minutes * 60)}{watching}")
        parts += [
            f"{label} {count.total}" + (f" ({count.per_minute:.1f}/min)" if count.observed else "")
            for label, count in summary.counts.items()
        ]
        for label, duration in summary.durations.items():
            timing = " (timing)" if label in self.running else ""
            parts.append(f"{label} {duration_figure(duration, summary.criterion)}{timing}")
        if summary.latency is not None:
            parts.append(f"latency {num(summary.latency.mean)} s (n={summary.latency.n})")
        for rating in summary.ratings.values():
            latest = rating.after if rating.after is not None else (rating.during or (rating.before,))[-1]
            if latest is not None:
                parts.append(f"{rating.label} {num(latest)}")
        parts += [f"{m.label} {measure_figure(m, summary.criterion)}" for m in summary.measures.values()]
        parts += [f"{s.label} {s.pct:.0f}% of {s.intervals} samples" for s in summary.samples.values()]
        if summary.cadence is not None:
            parts.append(f"cadence {num(summary.cadence.last)} steps/min (n={summary.cadence.measurements})")
        if summary.walks is not None:
            parts.append(f"walk {summary.walks.velocity:.2f} m/s (n={summary.walks.n})")
        if summary.sync is not None:
            parts.append(f"in sync {pct(summary.sync.pct_within)} of {summary.sync.beats} beats")
        return " · ".join(parts) or "no data yet"


def describe(event: Event, hierarchy: Sequence[str] = ()) -> str:
    """The event as the live log shows it, e.g. "✓ correct, verbal prompt" or "♩ 84 bpm 4/4"."""
    payload = event.payload
    match payload:
        case Trial(outcome=outcome) if outcome:
            return f"✗ {outcome}"
        case Trial(correct=correct, prompt_level=level):
            mark = "✓ correct" if correct else "✗ incorrect"
            independent = not hierarchy or level == hierarchy[0]
            return f"{mark}, {level}" if independent else f"{mark}, {level} prompt"
        case Count(label=label, delta=delta):
            return f"+{delta} {label}" if delta > 0 else f"{delta} {label}"
        case ObservationStart():
            return "◉ observing from here (counts become a rate over the time observed)"
        case ObservationStop():
            return "◉ observation stopped"
        case DurationStart(label=label):
            return f"▶ {label} started"
        case DurationStop(label=label):
            return f"■ {label} stopped"
        case Duration(label=label, seconds=secs):
            return f"{label}: {seconds(secs)}"
        case Latency(seconds=secs):
            return f"latency {num(secs)} s"
        case Rating(label=label, value=value, scale=scale, phase=phase):
            return f"{label} {num(value)}/{num(scale[1])} ({phase})"
        case Measure(label=label, value=value, unit=unit, phase=phase):
            return f"{label} {num(value)} {unit} ({phase})"
        case Sample(label=label, occurred=occurred, method=method):
            return f"{label}: {'yes' if occurred else 'no'} ({method} sample)"
        case Abc(antecedent=antecedent, behaviour=behaviour, consequence=consequence):
            return f"ABC: {antecedent} → {behaviour} → {consequence}"
        case Note(text=text):
            return f"“{text}”"
        case Tempo(bpm=bpm, meter=meter):
            return f"♩ {num(bpm)} bpm {meter}"
        case Cadence(steps_per_min=spm, n_steps=n, condition=condition):
            return f"cadence {num(spm)} steps/min ({n} steps{', ' + condition if condition else ''})"
        case Walk():
            return f"walk {walk_figures(payload)}"
        case Sync(pct_within=within, n_hits=hits):
            return f"sync {within:.0f}% of {hits} hits on the beat"
        case Intervention(plan_id=plan_id):
            return f"→ {plan_id}"
        case Tombstone():
            return "undo"
    return payload.kind


MEASURED_AS = {
    DataKind.MEASURE: ("measure_last",),
    DataKind.COUNT: ("count", "count_per_minute"),
    DataKind.DURATION: ("duration_seconds",),
}


def _measured_as(objective: Objective, kind: DataKind) -> bool:
    """The objective's criterion reads taps of `kind`: a count objective is counted, its name is the label."""
    return objective.criterion.metric in MEASURED_AS.get(kind, ())


def _duration_key(event: Event) -> DurationKey:
    return (event.client_id, event.objective_id, getattr(event.payload, "label", ""))


class LiveSession:
    """A session being run now: selection (client, objective, plan), taps, undo, pending retry, end."""

    def __init__(
        self,
        record: Record,
        session: Session,
        library: Library | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.record = record
        self.session = session
        self.library = library
        self._now = now
        self._lock = threading.RLock()
        self.clients: tuple[Client, ...] = tuple(record.caseload.client(c) for c in session.client_ids)
        self.objectives: dict[int, list[Objective]] = {
            c.id: record.caseload.objectives(c.id) for c in self.clients
        }
        self.hierarchies: dict[int, tuple[str, ...]] = {
            c.id: record.caseload.prompt_hierarchy(c.id) for c in self.clients
        }
        self._client_index = 0
        self._objective_index: dict[int, int] = {c.id: 0 for c in self.clients}
        self.plan: Plan | None = None
        self._entries: dict[str, LogEntry] = {}
        self._order: list[str] = []
        self._open_durations: dict[DurationKey, float] = {}
        self._observing: dict[tuple[int | None, int | None], float] = {}  # (client, objective) -> start
        self._cue_at: float | None = None
        self._walk_from: float | None = None
        self._tempo_due: Tempo | None = None
        self._tempo_logged: Tempo | None = None
        self._units: dict[int, str] = {}  # the unit each objective's measure was last taken in
        self._remembered = self._labels_used_before()

    # -- opening -----------------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        record: Record,
        client_ids: Sequence[int],
        setting: str = "",
        plan_id: str | None = None,
        library: Library | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        second_observer_of: int | None = None,
    ) -> LiveSession:
        """Open a new session in the record; with a plan, its first event is the switch to that plan.
        `second_observer_of`: a second observer's blind record of that open session (agreement is
        computed when the later of the two ends)."""
        plans = [plan_id] if plan_id else []
        session = record.sessions.start_session(
            client_ids, setting, plan_ids=plans, second_observer_of=second_observer_of
        )
        live = cls(record, session, library, now)
        if plan_id is not None:
            live.switch_plan(plan_id)
        return live

    @classmethod
    def resume(
        cls,
        record: Record,
        session_id: int,
        library: Library | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> LiveSession:
        """Reopen a session that was not ended (the app closed or crashed): its log, plan and timers."""
        live = cls(record, record.sessions.session(session_id), library, now)
        stored = record.events.session_events(session_id, include_undone=True, include_pending=False)
        pending = {e.id for e in record.events.pending()}
        undone = {e.payload.target_event_id for e in stored if isinstance(e.payload, Tombstone)}
        for event in stored:
            if isinstance(event.payload, Tombstone):
                continue
            live._remember(LogEntry(event, event.id not in pending, undone=event.id in undone))
            live._track(event, undone=event.id in undone)
        return live

    def _labels_used_before(self) -> dict[tuple[int, str], str]:
        """The last count/duration/rating label used with each objective, so labels stay consistent."""
        ids = [o.id for objectives in self.objectives.values() for o in objectives]
        events = self.record.events.latest_by_objective(ids, ("count", "duration_start", "rating", "measure"))
        self._units.update(
            {
                e.objective_id: e.payload.unit
                for e in events
                if isinstance(e.payload, Measure) and e.objective_id
            }
        )
        kinds = {
            "count": DataKind.COUNT,
            "duration_start": DataKind.DURATION,
            "rating": DataKind.RATING,
            "measure": DataKind.MEASURE,
        }
        return {
            (e.objective_id, kinds[e.kind]): getattr(e.payload, "label", "")
            for e in events
            if e.objective_id is not None
        }

    # -- selection (UI thread, no I/O) ----------------------------------------------------------------
    @property
    def is_group(self) -> bool:
        return len(self.clients) > 1

    @property
    def client(self) -> Client:
        return self.clients[self._client_index]

    def select_client(self, client_id: int) -> Client:
        with self._lock:
            self._client_index = next(i for i, c in enumerate(self.clients) if c.id == client_id)
            return self.client

    def next_client(self, step: int = 1) -> Client:
        with self._lock:
            self._client_index = (self._client_index + step) % len(self.clients)
            return self.client

    @property
    def objective(self) -> Objective | None:
        """The objective taps go to (None: the client has no active objective, data stay "general")."""
        objectives = self.objectives[self.client.id]
        return objectives[self._objective_index[self.client.id]] if objectives else None

    def select_objective(self, objective_id: int) -> Objective:
        with self._lock:
            objectives = self.objectives[self.client.id]
            index = next((i for i, o in enumerate(objectives) if o.id == objective_id), None)
            if index is None:
                raise ValueError(
                    f"objective {objective_id} is not an objective of {self.client.display_name}"
                )
            self._objective_index[self.client.id] = index
            return objectives[index]

    def cycle_objective(self, step: int = 1) -> Objective | None:
        with self._lock:
            objectives = self.objectives[self.client.id]
            if objectives:
                current = self._objective_index[self.client.id]
                self._objective_index[self.client.id] = (current + step) % len(objectives)
            return self.objective

    def objective_number(self, objective: Objective) -> int:
        """1-based position of the objective among its client's objectives (as the pad shows it)."""
        objectives = self.objectives[objective.client_id]
        return next(i for i, o in enumerate(objectives, start=1) if o.id == objective.id)

    @property
    def prompt_levels(self) -> tuple[str, ...]:
        """The hierarchy the pad offers now: the selected objective's (see `levels_for`)."""
        return self.levels_for(self.client.id, self.objective)

    def levels_for(self, client_id: int, objective: Objective | None) -> tuple[str, ...]:
        """The prompt hierarchy trials are taken on: the objective's own; else the plan's when it names
        its own (MIT: unison ... independent), which the objective keeps from its first trial; else the
        client's."""
        if objective is not None and objective.prompt_levels:
            return objective.prompt_levels
        return (self._plan_levels() if objective is not None else ()) or self.hierarchies[client_id]

    def _plan_levels(self) -> tuple[str, ...]:
        """A hierarchy the plan names for its trials, unless it is the standard one."""
        for tap in self._taps(DataKind.TRIAL):
            if tap.prompt_levels and tuple(tap.prompt_levels) != DEFAULT_PROMPT_LEVELS:
                return tuple(tap.prompt_levels)
        return ()

    # -- what the plan offers ----------------------------------------------------------------------
    def _taps(self, kind: DataKind) -> list[DataTap]:
        return [tap for tap in self.plan.data if tap.kind is kind] if self.plan is not None else []

    def label_for(self, kind: DataKind) -> str:
        """The label a count, duration or rating tap gets: the one this objective uses (chosen before, in
        this session or an earlier one); with no objective selected, the plan's; else a generic one."""
        known = self.known_label(kind)
        if known is not None:
            return known
        taps = self._taps(kind)
        return taps[0].label if taps and self.objective is None else DEFAULT_LABELS[kind]

    def known_label(self, kind: DataKind) -> str | None:
        """The label the selected objective has used for `kind`; None until one is chosen."""
        objective = self.objective
        return self._remembered.get((objective.id, kind)) if objective is not None else None

    def label_choices(self, kind: DataKind) -> list[str]:
        """What a first count or duration on the selected objective may be called: the objective itself
        when it is measured that way, every label the plan has for that kind, then a generic one. A plan's
        label is not assumed to fit: "Consecutive turns" must not land on a requesting objective."""
        objective = self.objective
        own = [objective.description] if objective is not None and _measured_as(objective, kind) else []
        return list(dict.fromkeys([*own, *(tap.label for tap in self._taps(kind)), DEFAULT_LABELS[kind]]))

    def use_label(self, kind: DataKind, label: str) -> None:
        """From now on the selected objective's `kind` taps are called `label`."""
        objective = self.objective
        if objective is not None:
            with self._lock:
                self._remembered[(objective.id, kind)] = label.strip()

    def rating_choices(self) -> list[RatingChoice]:
        """The ratings the current plan asks for, then the one used with this objective before."""
        choices = [
            RatingChoice(tap.label, (float(tap.scale_min or 0), float(tap.scale_max or 10)), tuple(tap.when))
            for tap in self._taps(DataKind.RATING)
        ]
        remembered = self.label_for(DataKind.RATING)
        if all(choice.label != remembered for choice in choices):
            choices.append(RatingChoice(remembered, DEFAULT_SCALE))
        return choices

    # -- drafts (UI thread, no I/O) -------------------------------------------------------------------
    def _draft(self, payload: Payload) -> EventDraft:
        objective = self.objective
        return EventDraft(
            payload,
            client_id=self.client.id,
            objective_id=objective.id if objective is not None else None,
        )

    def draft_trial(self, correct: bool, level: int = 0, outcome: str = "") -> EventDraft:
        """A trial at prompt level `level` (0 = the hierarchy's first, independent); IndexError if none.
        `outcome` "no response" or "refused": an opportunity without a response (never correct)."""
        levels = self.prompt_levels
        if not 0 <= level < len(levels):
            raise IndexError(f"{self.client.display_name}'s prompt hierarchy has {len(levels)} levels")
        return self._draft(Trial(correct and not outcome, levels[level], outcome))

    def draft_count(self, delta: int = 1) -> EventDraft:
        label = self.label_for(DataKind.COUNT)
        self.use_label(DataKind.COUNT, label)
        return self._draft(Count(label, delta))

    def draft_duration_toggle(self) -> EventDraft:
        """Start timing the objective's duration, or stop it if it is running."""
        label = self.label_for(DataKind.DURATION)
        self.use_label(DataKind.DURATION, label)
        draft = self._draft(DurationStart(label))
        key = (draft.client_id, draft.objective_id, label)
        with self._lock:
            if key in self._open_durations:
                del self._open_durations[key]
                return replace(draft, payload=DurationStop(label))
            self._open_durations[key] = self.elapsed()
            return draft

    def draft_observation_toggle(self) -> EventDraft:
        """Start observing the selected objective, or stop: its counts become a rate over the time observed.
        ValueError when no objective is selected (an observation is of an objective)."""
        draft = self._draft(ObservationStart())
        if draft.objective_id is None:
            raise ValueError("choose the objective to observe first (o)")
        key = (draft.client_id, draft.objective_id)
        with self._lock:
            if key in self._observing:
                del self._observing[key]
                return replace(draft, payload=ObservationStop())
            self._observing[key] = self.elapsed()
            return draft

    def timing(self) -> dict[DurationKey, float]:
        """Durations running now, with their start (seconds into the session)."""
        with self._lock:
            return dict(self._open_durations)

    def mark_cue(self) -> None:
        """The therapist gave the cue: the next `draft_latency` measures the time to the response."""
        self._cue_at = time.monotonic()

    @property
    def cue_marked(self) -> bool:
        return self._cue_at is not None

    def draft_latency(self) -> EventDraft:
        if self._cue_at is None:
            raise ValueError("no cue marked: press the latency key at the cue, then at the response")
        elapsed, self._cue_at = time.monotonic() - self._cue_at, None
        return self._draft(Latency(round(elapsed, 2)))

    def draft_rating(
        self,
        label: str,
        value: float,
        phase: RatingPhase = "during",
        scale: tuple[float, float] = DEFAULT_SCALE,
    ) -> EventDraft:
        return self._draft(Rating(label, value, scale, phase))

    def measure_choices(self) -> list[MeasureChoice]:
        """The measures the plan takes (label, unit, usual moments), then the one this objective used last."""
        choices = [
            MeasureChoice(tap.label, tap.unit or "", tuple(tap.when)) for tap in self._taps(DataKind.MEASURE)
        ]
        known = self.known_label(DataKind.MEASURE)
        objective = self.objective
        if known is not None and objective is not None and all(c.label != known for c in choices):
            choices.append(MeasureChoice(known, self._units.get(objective.id, "")))
        elif known is None and objective is not None and _measured_as(objective, DataKind.MEASURE):
            choices.insert(0, MeasureChoice(objective.description, ""))  # its unit is typed the first time
        return choices

    def draft_measure(self, label: str, value: float, unit: str, phase: RatingPhase) -> EventDraft:
        """A number with its unit (ROM in degrees, a 10 m walk in seconds) for the selected objective."""
        draft = self._draft(Measure(label.strip(), value, unit.strip(), phase))
        self.use_label(DataKind.MEASURE, label)
        objective = self.objective
        if objective is not None:
            self._units[objective.id] = unit.strip()
        return draft

    def commit_samples(
        self, label: str, method: str, interval_s: float, occurred: Mapping[int, bool]
    ) -> Update:
        """One time-sampling interval: a sample per client (on that client's selected objective), written
        together so a group's interval is all there or, pending, all kept."""
        drafts = []
        for client_id, seen in occurred.items():
            objectives = self.objectives[client_id]
            objective = objectives[self._objective_index[client_id]] if objectives else None
            drafts.append(
                EventDraft(
                    Sample(label, seen, method, interval_s),
                    client_id=client_id,
                    objective_id=objective.id if objective is not None else None,
                )
            )
        with self._lock:
            drafts = [*self._take_tempo(), *drafts]
        return self._log(drafts)

    def draft_abc(self, antecedent: str, behaviour: str, consequence: str) -> EventDraft:
        """An antecedent-behaviour-consequence entry for the selected client and objective."""
        return self._draft(Abc(antecedent.strip(), behaviour.strip(), consequence.strip()))

    def draft_note(self, text: str) -> EventDraft:
        return self._draft(Note(text.strip()))

    def draft_cadence(self, steps_per_min: float, cv: float, steps: int, condition: str = "") -> EventDraft:
        """A cadence measured by tap tempo, walked in `condition` (baseline, cued, cue faded), for the
        selected client and objective."""
        return self._draft(Cadence(round(steps_per_min, 1), round(cv, 4), steps, condition))

    def walk_timer(self) -> float | None:
        """Start timing a walk (None), or stop it: the seconds since it started (the walk is logged once
        its distance and steps are filled in, `draft_walk`)."""
        if self._walk_from is None:
            self._walk_from = time.monotonic()
            return None
        elapsed, self._walk_from = time.monotonic() - self._walk_from, None
        return elapsed

    @property
    def walk_timing(self) -> bool:
        return self._walk_from is not None

    def draft_walk(
        self, seconds: float, distance_m: float, steps: int | None, condition: str = ""
    ) -> EventDraft:
        """A timed walk (the 10-metre walk test) for the selected client and objective, walked in
        `condition` as a cadence is."""
        return self._draft(Walk(round(seconds, 2), distance_m, steps, condition))

    @property
    def records_cadence(self) -> bool:
        """The plan in use is gait work that takes cadence: tap tempo measures the client's steps then.
        Elsewhere (a drum session) tapping only sets a tempo; logging a gait cadence would be wrong."""
        return bool(self._taps(DataKind.CADENCE))

    def last_cadence(self) -> Cadence | None:
        """The selected client's latest cadence: from this session, else from their earlier sessions."""
        client_id = self.client.id
        for entry in reversed(self.entries()):
            event = entry.event
            if event.client_id == client_id and isinstance(event.payload, Cadence) and not entry.undone:
                return event.payload
        found = self.record.events.latest_event(client_id, Cadence.kind)
        return found.payload if found is not None and isinstance(found.payload, Cadence) else None

    def elapsed(self) -> float:
        """Seconds since the session started (wall clock, as the record stamps it)."""
        return max(0.0, (self._now() - parse(self.session.started_at)).total_seconds())

    # -- tempo markers -----------------------------------------------------------------------------
    def note_tempo(self, bpm: float, meter: str, source: str = "metronome") -> None:
        """The tempo in force changed; it is logged before the next tap (or by `settle_tempo`)."""
        with self._lock:
            marker = Tempo(round(float(bpm), 2), meter, source)
            same = self._tempo_logged is not None and (marker.bpm, marker.meter) == (
                self._tempo_logged.bpm,
                self._tempo_logged.meter,
            )
            self._tempo_due = None if same else marker

    @property
    def tempo_due(self) -> bool:
        return self._tempo_due is not None

    # -- writer thread: everything that touches the disk ----------------------------------------------
    def commit(self, draft: EventDraft) -> Update:
        """Log one tap (after any tempo marker due); pending instead of lost if the disk refuses."""
        if isinstance(draft.payload, Trial):
            try:
                self._keep_plan_levels(draft)
            except StorageError as exc:  # the trial cannot be scored yet: not shown as taken, nothing lost
                return Update(problem=f"the trial was not logged ({exc}); tap it again")
        with self._lock:
            drafts = [*self._take_tempo(), draft]
        return self._log(drafts)

    def _keep_plan_levels(self, draft: EventDraft) -> None:
        """A first trial on the plan's own hierarchy makes it the objective's: its trials are scored against
        it from now on, in later sessions and in its progress, whatever plan is in use then."""
        client_id = draft.client_id if draft.client_id is not None else self.client.id
        objectives = self.objectives.get(client_id, [])
        index = next((i for i, o in enumerate(objectives) if o.id == draft.objective_id), None)
        if index is None or objectives[index].prompt_levels:
            return
        levels = self._plan_levels()
        if levels:
            with self._lock:
                objectives[index] = self.record.caseload.update_objective(
                    objectives[index].id, prompt_levels=levels
                )

    def settle_tempo(self) -> Update:
        """Log a tempo marker that is due (the metronome started or changed and has settled)."""
        with self._lock:
            drafts = self._take_tempo()
        return self._log(drafts) if drafts else Update()

    def switch_plan(self, plan_id: str) -> Update:
        """Switch intervention: logged, and the plan's taps, steps and tempo preset become current."""
        plan = self.library.get(plan_id) if self.library is not None else None
        if self.library is not None and plan is None:
            raise ValueError(f"there is no plan {plan_id!r} in the library")
        update = self._log([EventDraft(Intervention(plan_id))])
        with self._lock:
            self.plan = plan
            if self._tempo_logged is not None:  # a new intervention starts its own tempo record
                self._tempo_due, self._tempo_logged = self._tempo_logged, None
        return update

    def undo_last(self) -> Update:
        """Cancel the last tap still counted (a tombstone; nothing is deleted). Empty Update if none."""
        with self._lock:
            target = next(
                (
                    self._entries[i]
                    for i in reversed(self._order)
                    if not self._entries[i].undone and self._entries[i].event.kind in TAP_KINDS
                ),
                None,
            )
        if target is None:
            return Update()
        try:
            self.record.events.undo(target.id)
            saved, problem = True, ""
        except StorageError as exc:
            saved, problem = False, str(exc)
        with self._lock:
            self._untrack(target.event)
            undone = replace(target, undone=True, saved=target.saved and saved, problem=problem)
            self._entries[target.id] = undone
            changed = [undone] + (self._mark_saved() if saved else [])
        return Update(tuple(changed), problem or None)

    def retry(self) -> Update:
        """Write the pending entries again (the app calls this on a timer); Update lists those now saved."""
        if not self.record.events.pending():
            return Update()
        try:
            self.record.events.flush()
        except StorageError as exc:
            return Update(problem=str(exc))
        with self._lock:
            return Update(tuple(self._mark_saved()))

    def end(self) -> Session:
        """Stop running timers, write everything pending, and close the session in the record.

        Raises StorageError (nothing lost: the session stays open and can be ended again) if the disk
        still refuses.
        """
        with self._lock:
            stops = [
                EventDraft(DurationStop(label), client_id=client, objective_id=objective)
                for client, objective, label in self._open_durations
            ]
            self._open_durations.clear()
            drafts = self._take_tempo() + stops
        if drafts:
            self._log(drafts)
        self.record.events.flush()
        self.session = self.record.sessions.end_session(self.session.id)
        return self.session

    @property
    def ended(self) -> bool:
        return self.session.ended_at is not None

    # -- reading (any thread) ----------------------------------------------------------------------
    def entries(self) -> list[LogEntry]:
        with self._lock:
            return [self._entries[i] for i in self._order]

    def tallies(self, client_id: int | None = None) -> list[Tally]:
        """Running figures per objective of one client (default: the selected one), general data last."""
        client = client_id if client_id is not None else self.client.id
        minutes = max(self.elapsed(), 1.0) / 60
        grouped: dict[int | None, list[Event]] = defaultdict(list)
        with self._lock:
            for entry in (self._entries[i] for i in self._order):
                if entry.event.client_id == client and not entry.undone and entry.event.kind in TALLIED:
                    grouped[entry.event.objective_id].append(entry.event)
            running = defaultdict(list)
            for owner, objective_id, label in self._open_durations:
                if owner == client:
                    running[objective_id].append(label)
        hierarchy = self.hierarchies[client]
        tallies = []
        for number, objective in enumerate(self.objectives[client], start=1):
            events = grouped.pop(objective.id, [])
            levels = self.levels_for(client, objective)
            summary = (
                summarise_group((client, objective.id), events, minutes, levels, (), objective.criterion)
                if events
                else None
            )
            observing = (client, objective.id) in self._observing
            tallies.append(Tally(client, objective, number, summary, tuple(running[objective.id]), observing))
        general = [e for events in grouped.values() for e in events]
        if general:
            summary = summarise_group((client, None), general, minutes, hierarchy, ())
            tallies.append(Tally(client, None, 0, summary, tuple(running[None])))
        return tallies

    def describe(self, entry: LogEntry) -> str:
        """The log line: what was taken, after the number of the objective it counts for ("2· +1 turn"),
        numbered as the objective bar and the picker number them."""
        event = entry.event
        hierarchy = self._event_levels(event)
        if isinstance(event.payload, Intervention):
            plan = self.library.get(event.payload.plan_id) if self.library is not None else None
            return f"→ {plan.title if plan is not None else plan_label(event.payload.plan_id)}"
        objectives = self.objectives.get(event.client_id or -1, [])
        number = next((n for n, o in enumerate(objectives, start=1) if o.id == event.objective_id), None)
        return (f"{number}· " if number is not None else "") + describe(event, hierarchy)

    def _event_levels(self, event: Event) -> tuple[str, ...]:
        """The hierarchy an event's trial was scored on (its objective's own, else its client's)."""
        objective = next(
            (o for o in self.objectives.get(event.client_id or -1, []) if o.id == event.objective_id), None
        )
        if objective is not None and objective.prompt_levels:
            return objective.prompt_levels
        return self.hierarchies.get(event.client_id or -1, ())

    def rated_labels(self, kind: type[Rating | Measure] = Rating) -> set[str]:
        """Rating (or measure) labels already taken for the selected client in this session: the next one
        of the same label is not "before" any more."""
        with self._lock:
            return {
                entry.event.payload.label
                for entry in self._entries.values()
                if isinstance(entry.event.payload, kind)
                and not entry.undone
                and entry.event.client_id == self.client.id
            }

    def client_name(self, client_id: int | None) -> str:
        return next((c.display_name for c in self.clients if c.id == client_id), "group")

    # -- internals ---------------------------------------------------------------------------------
    def _take_tempo(self) -> list[EventDraft]:
        marker, self._tempo_due = self._tempo_due, None
        if marker is None:
            return []
        self._tempo_logged = marker
        return [EventDraft(marker)]

    def _log(self, drafts: list[EventDraft]) -> Update:
        try:
            events = self.record.events.log_many(self.session.id, drafts)
            saved, problem = True, ""
        except StorageError as exc:
            events = self.record.events.pending()[-len(drafts) :]
            saved, problem = False, str(exc)
        with self._lock:
            changed = self._mark_saved() if saved else []
            for event in events:
                entry = LogEntry(event, saved, problem)
                self._remember(entry)
                changed.append(entry)
        return Update(tuple(changed), problem or None)

    def _remember(self, entry: LogEntry) -> None:
        if entry.id not in self._entries:
            self._order.append(entry.id)
        self._entries[entry.id] = entry
        if isinstance(entry.event.payload, Intervention) and self.library is not None:
            self.plan = self.library.get(entry.event.payload.plan_id)
        if isinstance(entry.event.payload, Tempo) and not entry.undone:
            self._tempo_logged = entry.event.payload

    def _mark_saved(self) -> list[LogEntry]:
        """Entries that were pending and are durable now (a later write flushed them)."""
        pending = {e.id for e in self.record.events.pending()}
        changed = []
        for entry_id in self._order:
            entry = self._entries[entry_id]
            if not entry.saved and entry_id not in pending:
                self._entries[entry_id] = changed_entry = replace(entry, saved=True, problem="")
                changed.append(changed_entry)
        return changed

    def _track(self, event: Event, undone: bool) -> None:
        """Rebuild running timers from a resumed session's events."""
        if undone:
            return
        payload = event.payload
        if isinstance(payload, DurationStart):
            self._open_durations[(event.client_id, event.objective_id, payload.label)] = event.offset_s
        elif isinstance(payload, DurationStop):
            self._open_durations.pop((event.client_id, event.objective_id, payload.label), None)
        elif isinstance(payload, ObservationStart):
            self._observing[(event.client_id, event.objective_id)] = event.offset_s
        elif isinstance(payload, ObservationStop):
            self._observing.pop((event.client_id, event.objective_id), None)

    def _untrack(self, event: Event) -> None:
        """Undoing a start stops its timer; undoing a stop lets the timer run on from its start."""
        payload = event.payload
        if isinstance(payload, DurationStart):
            self._open_durations.pop((event.client_id, event.objective_id, payload.label), None)
        elif isinstance(payload, DurationStop):
            key = (event.client_id, event.objective_id, payload.label)
            start = self._last_start(
                lambda e: isinstance(e.payload, DurationStart) and _duration_key(e) == key
            )
            if start is not None:
                self._open_durations[key] = start
        elif isinstance(payload, ObservationStart):
            self._observing.pop((event.client_id, event.objective_id), None)
        elif isinstance(payload, ObservationStop):
            window = (event.client_id, event.objective_id)
            start = self._last_start(
                lambda e: isinstance(e.payload, ObservationStart) and (e.client_id, e.objective_id) == window
            )
            if start is not None:
                self._observing[window] = start

    def _last_start(self, matches: Callable[[Event], bool]) -> float | None:
        """The latest live start matching `matches`: where a timer undone at its stop runs on from."""
        starts = [e.event.offset_s for e in self._entries.values() if not e.undone and matches(e.event)]
        return max(starts) if starts else None


class TapWriter:
    """One thread that runs the session's disk work in the order it was asked for.

    `submit(work, done)` returns at once; `done(result, error)` is called on the writer thread when the
    work finished (the app posts a message from there, which is thread-safe).
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="companion-taps")

    def submit(
        self, work: Callable[[], T], done: Callable[[T | None, BaseException | None], object]
    ) -> Future[T]:
        def run() -> T:
            try:
                result = work()
            except BaseException as exc:  # reported to the screen, never swallowed
                done(None, exc)
                raise
            done(result, None)
            return result

        return self._pool.submit(run)

    def drain(self, timeout: float | None = None) -> None:
        """Wait until everything submitted so far has run (tests, ending a session, quitting)."""
        self._pool.submit(lambda: None).result(timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
