"""The UI-thread half of a live session: which client and objective a tap is for, what the plan offers,
the timers a tap starts or stops, and the drafts of taps.

Drafts only capture the current selection (no I/O), so a tap belongs to the objective that was selected
when the key was pressed; `LiveSession` (session_controller) writes them, in order, on its writer thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from companion.live.session_timers import DurationKey, SessionTimers
from companion.live.tap_choices import DEFAULT_LABELS, DEFAULT_SCALE, MeasureChoice, RatingChoice, measured_as
from companion.record import (
    Abc,
    Cadence,
    Client,
    Count,
    DurationStart,
    DurationStop,
    EventDraft,
    Latency,
    Measure,
    Note,
    Objective,
    ObservationStart,
    ObservationStop,
    Payload,
    Rating,
    Record,
    Session,
    Trial,
    Walk,
)
from companion.record.clock import parse
from companion.record.payloads import RatingPhase
from interventions import DEFAULT_PROMPT_LEVELS, DataKind, DataTap, Library, Plan

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


class SessionDrafts:
    """A session's selection (client, objective, plan), labels, timers and drafts; no disk writes."""

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
        self.timers = SessionTimers()
        self._cue_at: float | None = None
        self._walk_from: float | None = None
        self._units: dict[int, str] = {}  # the unit each objective's measure was last taken in
        self._remembered = self._labels_used_before()

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
        own = [objective.description] if objective is not None and measured_as(objective, kind) else []
        return list(dict.fromkeys([*own, *(tap.label for tap in self._taps(kind)), DEFAULT_LABELS[kind]]))

    def labels_to_ask(self, kind: DataKind) -> list[str]:
        """What to ask before the first count (or duration) on the selected objective, once: the plan's
        labels are offered, not assumed. Empty when the key logs at once (no objective, a label chosen
        before, or only one to choose)."""
        choices = self.label_choices(kind)
        if self.objective is None or self.known_label(kind) is not None or len(choices) == 1:
            return []
        return choices

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
        with self._lock:
            started = self.timers.toggle_duration(
                (draft.client_id, draft.objective_id, label), self.elapsed()
            )
        return draft if started else replace(draft, payload=DurationStop(label))

    def draft_observation_toggle(self) -> EventDraft:
        """Start observing the selected objective, or stop: its counts become a rate over the time observed.
        ValueError when no objective is selected (an observation is of an objective)."""
        draft = self._draft(ObservationStart())
        if draft.objective_id is None:
            raise ValueError("choose the objective to observe first (o)")
        with self._lock:
            opened = self.timers.toggle_observation((draft.client_id, draft.objective_id), self.elapsed())
        return draft if opened else replace(draft, payload=ObservationStop())

    def timing(self) -> dict[DurationKey, float]:
        """Durations running now, with their start (seconds into the session)."""
        with self._lock:
            return dict(self.timers.durations)

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
        elif known is None and objective is not None and measured_as(objective, DataKind.MEASURE):
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

    def elapsed(self) -> float:
        """Seconds since the session started (wall clock, as the record stamps it)."""
        return max(0.0, (self._now() - parse(self.session.started_at)).total_seconds())
