"""The quick-tap event kinds and their payloads.

Each kind is a small frozen dataclass: the app builds one with a single call, the store keeps it as JSON
beside indexed columns, and summaries pattern-match on the class. Validation happens here, at the moment
of the tap, so a bad value is refused before it is ever stored rather than discovered in a report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

RatingPhase = Literal["before", "during", "after"]
RATING_PHASES: tuple[str, ...] = ("before", "during", "after")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _finite(value: float, name: str, minimum: float | None = None) -> None:
    _require(math.isfinite(value), f"{name} must be a finite number, got {value!r}")
    if minimum is not None:
        _require(value >= minimum, f"{name} must be >= {minimum}, got {value!r}")


def _label(value: str, name: str = "label") -> None:
    _require(bool(value.strip()), f"{name} must not be empty")


TRIAL_OUTCOMES: tuple[str, ...] = ("no response", "refused")
"""How a trial that was not a response went, as ABA data sheets mark it (NR, refusal). Such a trial is an
opportunity that was not correct: it counts in the percentages' denominators, never as a success."""


@dataclass(frozen=True)
class Trial:
    """One attempt at the objective's target behaviour, correct or not, at a prompt level; `outcome` says
    the client gave no response or refused ("" for a response, scored by `correct`)."""

    kind: ClassVar[str] = "trial"
    correct: bool
    prompt_level: str
    outcome: str = ""

    def __post_init__(self) -> None:
        _label(self.prompt_level, "prompt_level")
        _require(
            self.outcome in ("", *TRIAL_OUTCOMES),
            f"trial outcome {self.outcome!r} is not one of {', '.join(TRIAL_OUTCOMES)}",
        )
        _require(not (self.outcome and self.correct), f"a trial with {self.outcome} cannot be correct")


@dataclass(frozen=True)
class Count:
    """One occurrence (or a correction, delta=-1) of a counted behaviour, e.g. "initiation"."""

    kind: ClassVar[str] = "count"
    label: str
    delta: int = 1

    def __post_init__(self) -> None:
        _label(self.label)
        _require(self.delta != 0, "a count's delta must not be 0")


@dataclass(frozen=True)
class DurationStart:
    """The start of a timed behaviour (time on task, time engaged); paired by label with a stop."""

    kind: ClassVar[str] = "duration_start"
    label: str

    def __post_init__(self) -> None:
        _label(self.label)


@dataclass(frozen=True)
class DurationStop:
    """The end of the timed behaviour with the same label."""

    kind: ClassVar[str] = "duration_stop"
    label: str

    def __post_init__(self) -> None:
        _label(self.label)


@dataclass(frozen=True)
class ObservationStart:
    """The therapist starts observing the event's objective: its counts become a rate over the time
    observed, not over the whole session (ABA: rate = count / observation time)."""

    kind: ClassVar[str] = "observation_start"


@dataclass(frozen=True)
class ObservationStop:
    """The end of the observation window the last ObservationStart of the same objective opened."""

    kind: ClassVar[str] = "observation_stop"


@dataclass(frozen=True)
class Duration:
    """A duration entered with both ends known (e.g. typed in after the fact)."""

    kind: ClassVar[str] = "duration"
    label: str
    seconds: float

    def __post_init__(self) -> None:
        _label(self.label)
        _finite(self.seconds, "seconds", 0.0)


@dataclass(frozen=True)
class Latency:
    """Time from the therapist's cue to the client's response."""

    kind: ClassVar[str] = "latency"
    seconds: float

    def __post_init__(self) -> None:
        _finite(self.seconds, "seconds", 0.0)


@dataclass(frozen=True)
class Rating:
    """A rating such as anxiety 0-10, before/during/after an intervention."""

    kind: ClassVar[str] = "rating"
    label: str
    value: float
    scale: tuple[float, float] = (0.0, 10.0)
    phase: RatingPhase = "during"

    def __post_init__(self) -> None:
        _label(self.label)
        low, high = self.scale
        _finite(self.value, "value")
        _require(low < high, f"rating scale must be (low, high) with low < high, got {self.scale!r}")
        _require(low <= self.value <= high, f"rating {self.value} is outside its scale {low:g}-{high:g}")
        _require(self.phase in RATING_PHASES, f"phase must be one of {RATING_PHASES}, got {self.phase!r}")


@dataclass(frozen=True)
class Measure:
    """A number with its unit, taken before, during or after the work: a shoulder's range of motion in
    degrees, a 10 m walk in seconds, a distance, a vocal range in semitones, breaths per minute."""

    kind: ClassVar[str] = "measure"
    label: str
    value: float
    unit: str
    phase: RatingPhase = "during"

    def __post_init__(self) -> None:
        _label(self.label)
        _finite(self.value, "value")
        _label(self.unit, "unit")
        _require(self.phase in RATING_PHASES, f"phase must be one of {RATING_PHASES}, got {self.phase!r}")


SAMPLING_METHODS: tuple[str, ...] = ("momentary", "partial", "whole")
"""Time sampling as ABA defines it: is the behaviour happening at the moment the interval ends (momentary
time sampling), did it happen at any time in the interval (partial interval), or throughout it (whole)."""


@dataclass(frozen=True)
class Sample:
    """One interval of time sampling for one client: whether the behaviour was observed, by `method`."""

    kind: ClassVar[str] = "sample"
    label: str
    occurred: bool
    method: str = "momentary"
    interval_s: float = 30.0

    def __post_init__(self) -> None:
        _label(self.label)
        _require(self.method in SAMPLING_METHODS, f"method must be one of {', '.join(SAMPLING_METHODS)}")
        _finite(self.interval_s, "interval_s", 1.0)


@dataclass(frozen=True)
class Abc:
    """A behaviour with what came just before it and what followed (ABA's antecedent-behaviour-consequence
    record): the data a function of behaviour is read from."""

    kind: ClassVar[str] = "abc"
    antecedent: str
    behaviour: str
    consequence: str

    def __post_init__(self) -> None:
        _label(self.antecedent, "antecedent")
        _label(self.behaviour, "behaviour")
        _label(self.consequence, "consequence")


@dataclass(frozen=True)
class Note:
    """A timestamped free note or a quote of the client."""

    kind: ClassVar[str] = "note"
    text: str

    def __post_init__(self) -> None:
        _label(self.text, "text")


@dataclass(frozen=True)
class Tempo:
    """The metronome/cue tempo in force from this moment (source: metronome, manual, midi-file...)."""

    kind: ClassVar[str] = "tempo"
    bpm: float
    meter: str = "4/4"
    source: str = "metronome"

    def __post_init__(self) -> None:
        _finite(self.bpm, "bpm")
        _require(10 <= self.bpm <= 400, f"bpm {self.bpm} is outside 10-400")


CADENCE_CONDITIONS: tuple[str, ...] = ("baseline", "cued", "cue faded")
"""How a cadence was walked, as RAS data is kept: before any cue this session (baseline), with the beat
(cued), or after it was faded or stopped (carry-over). "" for cadences logged before conditions existed."""


@dataclass(frozen=True)
class Cadence:
    """A measured walking cadence (steps per minute) with its variability over n steps."""

    kind: ClassVar[str] = "cadence"
    steps_per_min: float
    cv: float
    n_steps: int
    condition: str = ""

    def __post_init__(self) -> None:
        _finite(self.steps_per_min, "steps_per_min", 0.0)
        _finite(self.cv, "cv", 0.0)
        _require(self.n_steps >= 2, "a cadence needs at least 2 steps")
        _require(
            self.condition in ("", *CADENCE_CONDITIONS),
            f"cadence condition {self.condition!r} is not one of {', '.join(CADENCE_CONDITIONS)}",
        )


@dataclass(frozen=True)
class Walk:
    """A timed walk, as the 10-metre walk test takes it: the seconds over the measured distance and the
    steps counted there. Gait velocity, cadence and stride length follow from these three numbers, so
    they are stored and the figures worked out (`velocity_m_s`, `cadence_spm`, `stride_m`)."""

    kind: ClassVar[str] = "walk"
    seconds: float
    distance_m: float = 10.0
    steps: int | None = None
    condition: str = ""

    def __post_init__(self) -> None:
        _finite(self.seconds, "seconds")
        _require(self.seconds > 0, f"a walk takes some time, got {self.seconds!r} s")
        _finite(self.distance_m, "distance_m")
        _require(self.distance_m > 0, f"a walk covers some distance, got {self.distance_m!r} m")
        _require(self.steps is None or self.steps >= 2, "a walk takes at least 2 steps")
        _require(
            self.condition in ("", *CADENCE_CONDITIONS),
            f"walk condition {self.condition!r} is not one of {', '.join(CADENCE_CONDITIONS)}",
        )

    @property
    def velocity_m_s(self) -> float:
        return self.distance_m / self.seconds

    @property
    def cadence_spm(self) -> float | None:
        """Steps per minute over the timed distance."""
        return None if self.steps is None else self.steps / self.seconds * 60

    @property
    def stride_m(self) -> float | None:
        """Stride length: two steps (left and right), so twice the distance per step."""
        return None if self.steps is None else 2 * self.distance_m / self.steps


@dataclass(frozen=True)
class Sync:
    """How closely the client's hits matched the beat over one exercise (from the MIDI sync analysis)."""

    kind: ClassVar[str] = "sync"
    mean_asynchrony_ms: float
    sd_ms: float
    r: float
    pct_within: float
    n_hits: int
    missed: int
    extra: int
    tempo_bpm: float
    extra_fields: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("mean_asynchrony_ms", "sd_ms", "tempo_bpm"):
            _finite(getattr(self, name), name)
        _require(0.0 <= self.r <= 1.0, f"r (resultant vector length) must be within 0-1, got {self.r}")
        _require(0.0 <= self.pct_within <= 100.0, f"pct_within must be within 0-100, got {self.pct_within}")
        _require(min(self.n_hits, self.missed, self.extra) >= 0, "hit counts must not be negative")


@dataclass(frozen=True)
class Intervention:
    """The therapist switched to this intervention plan; later events belong to it."""

    kind: ClassVar[str] = "intervention"
    plan_id: str

    def __post_init__(self) -> None:
        _label(self.plan_id, "plan_id")


@dataclass(frozen=True)
class Tombstone:
    """Undo: the target event no longer counts. Nothing is ever deleted, so undo itself is auditable."""

    kind: ClassVar[str] = "tombstone"
    target_event_id: str

    def __post_init__(self) -> None:
        _label(self.target_event_id, "target_event_id")


Payload = (
    Trial
    | Count
    | DurationStart
    | DurationStop
    | Duration
    | ObservationStart
    | ObservationStop
    | Latency
    | Rating
    | Measure
    | Sample
    | Abc
    | Note
    | Tempo
    | Cadence
    | Walk
    | Sync
    | Intervention
    | Tombstone
)
