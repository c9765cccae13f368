"""The data template of a plan: which quick taps the session screen offers while the plan is running.

The session record (`companion/`) turns each tap into an event; the plan only says which kinds apply and
what to call them, so a therapist sees "Steps in time with the beat" rather than a generic "trial".
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationInfo, field_validator

from interventions.errors import SchemaProblem
from interventions.vocabulary import lenient

DEFAULT_PROMPT_LEVELS = ("independent", "gestural", "verbal", "model", "physical")
DEFAULT_RATING_SCALE = (0, 10)

Moment = Literal["before", "during", "after"]


class DataKind(StrEnum):
    """The quick-tap kinds the session record understands."""

    TRIAL = "trial"
    COUNT = "count"
    DURATION = "duration"
    LATENCY = "latency"
    RATING = "rating"
    NOTE = "note"
    CADENCE = "cadence"
    SYNC = "sync"
    MEASURE = "measure"


class DataTap(BaseModel):
    """One `[[data]]` entry: a kind of quick tap with the label the therapist will see.

    Kind-specific keys default sensibly for their kind (the standard prompt hierarchy, a 0-10 scale) and
    are refused on other kinds, because a scale on a count would silently mean nothing.
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    kind: Annotated[DataKind, Strict(False), BeforeValidator(lenient(DataKind))] = Field(
        description="trial, count, duration, latency, rating, measure, note, cadence or sync"
    )
    label: str = Field(min_length=1, max_length=80, description="what the button says, up to 80 characters")
    prompt_levels: list[str] | None = Field(
        None, description="prompt hierarchy for a trial, most to least independent", validate_default=True
    )
    unit: str | None = Field(
        None,
        max_length=24,
        description='a measure\'s unit, e.g. "degrees", "s", "breaths/min"',
        validate_default=True,
    )
    scale_min: int | None = Field(None, description="lowest rating on the scale", validate_default=True)
    scale_max: int | None = Field(None, description="highest rating on the scale", validate_default=True)
    when: list[Moment] = Field(
        default_factory=lambda: list[Moment](["during"]),
        min_length=1,
        description="before, during and/or after",
    )

    @field_validator("label")
    @classmethod
    def _label_has_text(cls, value: str) -> str:
        if not value.strip():
            raise SchemaProblem("label is blank", "write what the button should say")
        return value.strip()

    @field_validator("prompt_levels")
    @classmethod
    def _prompts_for_trials(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        kind = info.data.get("kind")
        if kind is None:
            return value
        if kind is not DataKind.TRIAL:
            if value is not None:
                raise SchemaProblem(f"prompt_levels apply to trials, not to a {kind}", "remove prompt_levels")
            return None
        if value is None:
            return list(DEFAULT_PROMPT_LEVELS)
        cleaned = [level.strip() for level in value]
        if not cleaned or any(not level for level in cleaned) or len(set(cleaned)) != len(cleaned):
            raise SchemaProblem(
                "prompt_levels must be distinct, non-blank names",
                'e.g. ["independent", "verbal", "physical"]',
            )
        return cleaned

    @field_validator("unit")
    @classmethod
    def _unit_for_measures(cls, value: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind is None:
            return value
        if kind is not DataKind.MEASURE:
            if value is not None:
                raise SchemaProblem(f"unit applies to a measure, not to a {kind}", "remove unit")
            return None
        if value is None or not value.strip():
            raise SchemaProblem(
                "a measure needs its unit", 'add unit = "degrees" (or "s", "m", "breaths/min")'
            )
        return value.strip()

    @field_validator("scale_min", "scale_max")
    @classmethod
    def _scale_for_ratings(cls, value: int | None, info: ValidationInfo) -> int | None:
        kind = info.data.get("kind")
        field = info.field_name
        if kind is None:
            return value
        if kind is not DataKind.RATING:
            if value is not None:
                raise SchemaProblem(f"{field} applies to ratings, not to a {kind}", f"remove {field}")
            return None
        if value is None:
            return DEFAULT_RATING_SCALE[0] if field == "scale_min" else DEFAULT_RATING_SCALE[1]
        low = info.data.get("scale_min")
        if field == "scale_max" and low is not None and value <= low:
            raise SchemaProblem(f"scale_max {value} is not above scale_min {low}", "make scale_max larger")
        return value

    @field_validator("when")
    @classmethod
    def _moments_are_distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise SchemaProblem("when lists a moment twice", "name each of before/during/after once")
        return value
