"""The tempo preset a plan hands to the tempo engine.

The engine (`audio/`) accepts exactly these plain values, so this module validates them at load time, where
a mistake can be reported against the plan file, instead of at the moment the therapist presses play. It
borrows the engine's tempo range and time signature parser (`audio.tempo`), so a plan and the metronome
agree on what a bpm and a meter are; the plan itself reaches the engine only as plain dicts.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from audio.tempo import MAX_BPM, MIN_BPM, PLAYABLE_NOTE_VALUES, TempoError, read_time_signature
from interventions.errors import SchemaProblem

MAX_PLAN_BEATS_PER_BAR = 16
"""A plan's meter is written by hand; a bar longer than 16 beats is a typo, though the engine counts 32."""
_CUE_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

AccentLevel = Literal["accent", "beat", "sub", "silent"]
Subdivision = Literal[1, 2, 3, 4, "triplet"]

STRICT_MODEL = ConfigDict(strict=True, extra="forbid", frozen=True)
"""Plans are typed by hand: no coercion, no unknown keys (typos surface), no edits after loading."""


def beats_per_bar(meter: str) -> int:
    """The numerator of a valid meter: the number of pulses (and accent levels) in one bar."""
    try:
        beats, unit = read_time_signature(meter)
    except TempoError:
        raise SchemaProblem(
            f"meter {meter!r} is not a time signature",
            'write it as beats/note value, e.g. "4/4", "3/4" or "6/8"',
        ) from None
    if not 1 <= beats <= MAX_PLAN_BEATS_PER_BAR or unit not in PLAYABLE_NOTE_VALUES:
        raise SchemaProblem(
            f"meter {meter!r} is out of range",
            f"use 1 to {MAX_PLAN_BEATS_PER_BAR} beats over a note value of 1, 2, 4, 8 or 16",
        )
    return beats


def _bpm(description: str) -> Any:
    return Field(ge=MIN_BPM, le=MAX_BPM, description=description)


def _optional_bpm(description: str) -> Any:
    return Field(None, ge=MIN_BPM, le=MAX_BPM, description=description, validate_default=True)


class TempoRamp(BaseModel):
    """How the tempo moves during the exercise: linearly to a target, or by a percentage every few bars.

    One model with a `kind` (rather than a union of two) so a mistake is reported on the exact key, e.g.
    `tempo.ramp.every_bars`, instead of as a failure to match either shape.
    """

    model_config = STRICT_MODEL

    kind: Literal["linear", "percent"] = Field(description='"linear" (to_bpm + beats) or "percent"')
    to_bpm: float | None = _optional_bpm(f"target tempo of a linear ramp, {MIN_BPM}-{MAX_BPM}")
    beats: int | None = Field(None, ge=1, description="beats a linear ramp takes", validate_default=True)
    percent: float | None = Field(
        None, gt=0, le=50, description="tempo step of a percent ramp, 0-50 %", validate_default=True
    )
    every_bars: int | None = Field(
        None, ge=1, description="bars between percent steps", validate_default=True
    )
    max_bpm: float | None = _optional_bpm(f"ceiling of a percent ramp, {MIN_BPM}-{MAX_BPM}")

    @field_validator("to_bpm", "beats", "percent", "every_bars", "max_bpm")
    @classmethod
    def _belongs_to_kind(cls, value: object, info: ValidationInfo) -> object:
        kind = info.data.get("kind")
        field = info.field_name
        required = {"linear": ("to_bpm", "beats"), "percent": ("percent", "every_bars")}
        used = {"linear": ("to_bpm", "beats"), "percent": ("percent", "every_bars", "max_bpm")}
        if kind is None:
            return value
        if value is None and field in required[kind]:
            raise SchemaProblem(f"a {kind} ramp needs {field}", f"add `{field} = ...` under [tempo.ramp]")
        if value is not None and field not in used[kind]:
            other = "percent" if kind == "linear" else "linear"
            raise SchemaProblem(
                f"{field} is not used by a {kind} ramp", f'remove it, or set kind = "{other}"'
            )
        return value

    def summary(self) -> str:
        if self.kind == "linear":
            return f"linear to {self.to_bpm:g} bpm over {self.beats} beats"
        ceiling = f" up to {self.max_bpm:g} bpm" if self.max_bpm is not None else ""
        return f"+{self.percent:g}% every {self.every_bars} bars{ceiling}"


class TempoPreset(BaseModel):
    """The `[tempo]` table of a plan: what the metronome starts at and how it may move.

    The working range is declared before `bpm` so that `bpm` can be checked against it and the error
    lands on `tempo.bpm`, the value most likely to be wrong.
    """

    model_config = STRICT_MODEL

    bpm_min: float | None = _optional_bpm(f"lowest tempo the therapist typically uses, {MIN_BPM}-{MAX_BPM}")
    bpm_max: float | None = _optional_bpm(f"highest tempo the therapist typically uses, {MIN_BPM}-{MAX_BPM}")
    bpm: float = _bpm(f"starting tempo in beats per minute, {MIN_BPM}-{MAX_BPM}")
    meter: str = Field("4/4", description='time signature such as "4/4" or "6/8"')
    subdivision: Subdivision = Field(1, description='clicks per beat: 1, 2, 3, 4 or "triplet"')
    accents: list[AccentLevel] | None = Field(
        None, description="one level per beat of the bar: accent, beat, sub or silent"
    )
    swing: float = Field(0.0, ge=0.0, le=0.5, description="swing ratio, 0 (straight) to 0.5")
    count_in_bars: int = Field(1, ge=0, le=8, description="bars of count-in before the exercise, 0-8")
    cue: str = Field(
        "click", description='"click", a groove name such as "march" or "waltz", or "preferred-song"'
    )
    ramp: TempoRamp | None = None
    adaptive: Literal["off", "follow", "entrain"] = Field(
        "off",
        description='adaptive tempo while the app listens to the client: "off", "follow" (move toward the '
        'client\'s tempo within bpm_min-bpm_max) or "entrain" (hold, step up once the client is entrained)',
    )

    @field_validator("bpm_max")
    @classmethod
    def _range_is_ordered(cls, value: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("bpm_min")
        if value is not None and low is not None and value < low:
            raise SchemaProblem(
                f"bpm_max {value:g} is below bpm_min {low:g}", "swap them or correct one of them"
            )
        return value

    @field_validator("bpm")
    @classmethod
    def _bpm_in_working_range(cls, value: float, info: ValidationInfo) -> float:
        low, high = info.data.get("bpm_min"), info.data.get("bpm_max")
        if (low is not None and value < low) or (high is not None and value > high):
            raise SchemaProblem(
                f"starting bpm {value:g} is outside the working range "
                f"{_text(low, MIN_BPM)}-{_text(high, MAX_BPM)}",
                "move bpm into the range or widen bpm_min/bpm_max",
            )
        return value

    @field_validator("meter")
    @classmethod
    def _meter_is_a_time_signature(cls, value: str) -> str:
        beats_per_bar(value)
        return value.replace(" ", "")

    @field_validator("subdivision", mode="before")
    @classmethod
    def _subdivision_is_a_count(cls, value: object) -> object:
        if isinstance(value, bool) or value not in (1, 2, 3, 4, "triplet"):
            raise SchemaProblem(
                f"subdivision {value!r} is not supported", 'use 1, 2, 3 or 4 clicks per beat, or "triplet"'
            )
        return value

    @field_validator("accents")
    @classmethod
    def _one_accent_per_beat(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        meter = info.data.get("meter")
        if value is not None and meter is not None and len(value) != beats_per_bar(meter):
            raise SchemaProblem(
                f"{len(value)} accent levels for a {meter} bar",
                f"give exactly {beats_per_bar(meter)}, one per beat",
            )
        return value

    @field_validator("cue")
    @classmethod
    def _cue_is_a_name(cls, value: str) -> str:
        if not _CUE_NAME.match(value):
            raise SchemaProblem(
                f"cue {value!r} is not a cue name",
                'use "click", "preferred-song" or a groove name in lower case such as "march"',
            )
        return value

    @field_validator("ramp")
    @classmethod
    def _ramp_stays_in_range(cls, value: TempoRamp | None, info: ValidationInfo) -> TempoRamp | None:
        bpm, low, high = info.data.get("bpm"), info.data.get("bpm_min"), info.data.get("bpm_max")
        if value is None or bpm is None:
            return value
        if value.kind == "linear" and value.to_bpm is not None:
            _check_target("to_bpm", value.to_bpm, low, high)
        if value.kind == "percent" and value.max_bpm is not None:
            if value.max_bpm <= bpm:
                raise SchemaProblem(
                    f"max_bpm {value.max_bpm:g} does not leave room above the starting bpm {bpm:g}",
                    "raise max_bpm or lower bpm",
                    field="max_bpm",
                )
            _check_target("max_bpm", value.max_bpm, low, high)
        return value

    def as_engine_kwargs(self) -> dict[str, Any]:
        """The plain values the tempo engine accepts; keys the author left unset are omitted.

        `adaptive` is left out: it is not the engine's but the listening layer's (it needs the client's hits).
        """
        return self.model_dump(exclude_none=True, exclude={"adaptive"})

    def summary(self) -> str:
        """One line for lists and the session screen, e.g. "84 bpm (60-100), 4/4, +5% every 8 bars"."""
        parts = [f"{self.bpm:g} bpm"]
        if self.bpm_min is not None or self.bpm_max is not None:
            parts[0] += f" ({_text(self.bpm_min, MIN_BPM)}-{_text(self.bpm_max, MAX_BPM)})"
        parts.append(self.meter)
        if self.subdivision != 1:
            parts.append(f"subdivision {self.subdivision}")
        if self.swing:
            parts.append(f"swing {self.swing:g}")
        if self.cue != "click":
            parts.append(f"cue {self.cue}")
        if self.ramp is not None:
            parts.append(self.ramp.summary())
        if self.adaptive != "off":
            parts.append(f"adaptive tempo: {self.adaptive}")
        return ", ".join(parts)


def _text(value: float | None, default: int) -> str:
    return f"{value if value is not None else default:g}"


def _check_target(field: str, target: float, low: float | None, high: float | None) -> None:
    if (low is not None and target < low) or (high is not None and target > high):
        raise SchemaProblem(
            f"ramp {field} {target:g} leaves the working range {_text(low, MIN_BPM)}-{_text(high, MAX_BPM)}",
            f"keep {field} within bpm_min..bpm_max or widen the range",
            field=field,
        )
