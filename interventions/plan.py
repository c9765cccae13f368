"""The schema of one intervention plan, as written in `interventions/plans/<id>.toml`.

Strict on purpose: unknown keys, wrong types and out-of-range values are errors, because a plan that
half-loads (a misspelt `precuations`, say) would silently hide safety information from the therapist.
"""

from __future__ import annotations

import re
import string
from collections.abc import Hashable, Sequence
from typing import Annotated, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from interventions.data_taps import DataTap
from interventions.errors import SchemaProblem
from interventions.tempo_preset import STRICT_MODEL, TempoPreset
from interventions.vocabulary import Approach, Format, GoalDomain, Method, Place, Technique, lenient

PLAN_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
OLDEST = 120
#: NMT techniques whose exercises are driven by the tempo engine, so a plan using one needs [tempo].
PACED_TECHNIQUES = frozenset({Technique.RAS, Technique.PSE, Technique.TIMP})

H = TypeVar("H", bound=Hashable)


def age_margin(years: int) -> int:
    """The leeway, in years, at an edge of a plan's age range that lies at `years` of age.

    A plan's `age_min`-`age_max` is the usual range, not a cliff: a client a little outside it may still
    be the right client (an 11-year-old for a 3-10 song, a 57-year-old with early-onset dementia for a
    60+ group, and ages computed from a birth year are a year out half the time). The leeway follows the
    younger of the two ages at the edge crossed (the client's age below `age_min`, `age_max` above it),
    because a year means more the younger the person: 1 year under age 6, 2 years from 6 to 17, 5 years
    for adults.
    """
    if years < 6:
        return 1
    if years < 18:
        return 2
    return 5


def _check_template(text: str) -> str:
    """Objectives are templates: `{client} will ... at {bpm} bpm`; only named placeholders are allowed."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise SchemaProblem(
            f"objective template is malformed ({exc})", "write placeholders as {name}; write {{ for a brace"
        ) from None
    bad = [name for name in names if not name.isidentifier()]
    if bad:
        raise SchemaProblem(
            f"objective placeholder {{{bad[0]}}} is not a name", "use a word such as {client} or {bpm}"
        )
    return text


def _distinct(values: Sequence[H]) -> Sequence[H]:
    seen: set[H] = set()
    for value in values:
        if value in seen:
            raise SchemaProblem(f"{value!s} is listed twice", "list each value once")
        seen.add(value)
    return values


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
#: Multi-line TOML strings keep the author's line breaks; prose is re-wrapped on display, so fold them.
Prose = Annotated[Text, AfterValidator(lambda text: " ".join(text.split()))]
Objective = Annotated[Text, AfterValidator(_check_template)]
Domain = Annotated[GoalDomain, Strict(False), BeforeValidator(lenient(GoalDomain))]
ApproachName = Annotated[Approach, Strict(False), BeforeValidator(lenient(Approach))]
TechniqueCode = Annotated[Technique, Strict(False), BeforeValidator(lenient(Technique))]
MethodName = Annotated[Method, Strict(False), BeforeValidator(lenient(Method))]
FormatName = Annotated[Format, Strict(False), BeforeValidator(lenient(Format))]
PlaceName = Annotated[Place, Strict(False), BeforeValidator(lenient(Place))]


class Adaptations(BaseModel):
    """How to grade the intervention down or up for the client in front of you."""

    model_config = STRICT_MODEL

    easier: list[Text] = Field(min_length=1, description="ways to make it easier (a list of texts)")
    harder: list[Text] = Field(min_length=1, description="ways to make it harder (a list of texts)")


class Plan(BaseModel):
    """One intervention: what it is for, who it suits, how to run it, and what to measure."""

    model_config = STRICT_MODEL

    id: str = Field(
        min_length=2, max_length=64, description="lower-case words joined by hyphens, e.g. ras-gait-training"
    )
    title: Text = Field(max_length=80, description="a short title, up to 80 characters")
    summary: Prose = Field(description="a few sentences: what the client does and why it helps")
    domains: list[Domain] = Field(min_length=1, description="goal domains this plan serves")
    objectives: list[Objective] = Field(
        min_length=1, description="objective templates such as '{client} will ... in {criterion}'"
    )
    populations: list[Text] = Field(min_length=1, description='who it suits, e.g. ["older adults", "stroke"]')
    age_min: int = Field(0, ge=0, le=OLDEST, description="youngest suitable age in years, 0-120")
    age_max: int = Field(OLDEST, ge=0, le=OLDEST, description="oldest suitable age in years, 0-120")
    approach: ApproachName = Field(description="behavioural, NMT, Nordoff-Robbins, GIM, humanistic, ...")
    technique: TechniqueCode | None = Field(
        None,
        description="the NMT technique code (RAS, TIMP, ...) when approach is NMT",
        validate_default=True,
    )
    methods: list[MethodName] = Field(min_length=1, description="singing, instrument-playing, listening, ...")
    materials: list[Text] = Field(min_length=1, description="instruments and other materials")
    formats: list[FormatName] = Field(min_length=1, description='"individual" and/or "group"')
    settings: list[PlaceName] = Field(min_length=1, description="in-home, school, studio, hospital, ...")
    steps: list[Text] = Field(min_length=3, description="the procedure, at least three steps, in order")
    adaptations: Adaptations
    precautions: list[Text] = Field(min_length=1, description="what to watch for and how to keep it safe")
    contraindications: list[Text] = Field(
        default_factory=list, description="when not to use this plan (optional)"
    )
    tempo: TempoPreset | None = Field(None, validate_default=True)
    data: list[DataTap] = Field(min_length=1, description="the quick taps this plan records")

    @field_validator("id")
    @classmethod
    def _id_is_a_slug(cls, value: str) -> str:
        if not PLAN_ID.match(value):
            raise SchemaProblem(
                f"id {value!r} is not a plan id", "use lower-case letters, digits and single hyphens"
            )
        return value

    @field_validator("domains", "methods", "formats", "settings", "populations")
    @classmethod
    def _no_repeats(cls, value: list[H]) -> list[H]:
        _distinct(value)
        return value

    @field_validator("age_max")
    @classmethod
    def _ages_are_ordered(cls, value: int, info: ValidationInfo) -> int:
        youngest = info.data.get("age_min")
        if youngest is not None and value < youngest:
            raise SchemaProblem(f"age_max {value} is below age_min {youngest}", "swap or correct them")
        return value

    @field_validator("technique")
    @classmethod
    def _technique_matches_approach(cls, value: Technique | None, info: ValidationInfo) -> Technique | None:
        approach = info.data.get("approach")
        if approach is Approach.NMT and value is None:
            raise SchemaProblem("an NMT plan needs its technique", 'add e.g. technique = "RAS"')
        if value is not None and approach is not None and approach is not Approach.NMT:
            raise SchemaProblem(
                f"technique {value} is an NMT technique but approach is {approach}",
                'set approach = "NMT" or remove technique',
            )
        return value

    @field_validator("tempo")
    @classmethod
    def _paced_techniques_have_tempo(
        cls, value: TempoPreset | None, info: ValidationInfo
    ) -> TempoPreset | None:
        technique = info.data.get("technique")
        if value is None and technique in PACED_TECHNIQUES:
            raise SchemaProblem(f"a {technique} plan needs a tempo preset", "add a [tempo] table with bpm")
        return value

    @field_validator("data")
    @classmethod
    def _labels_are_distinct(cls, value: list[DataTap]) -> list[DataTap]:
        _distinct([tap.label.casefold() for tap in value])
        return value

    def suits_age(self, age: int) -> bool:
        """Whether `age` is inside the usual range `age_min`-`age_max` (exactly; see `near_age`)."""
        return self.age_min <= age <= self.age_max

    def years_outside_age(self, age: int) -> int:
        """How many years `age` lies below `age_min` or above `age_max`; 0 inside the range."""
        return max(self.age_min - age, age - self.age_max, 0)

    def near_age(self, age: int) -> bool:
        """Whether `age` is inside the range or within its soft margin (`age_margin`) outside it.

        Suggestions use this: a client just outside the usual range still gets the plan, flagged and
        ranked lower, instead of never seeing it. E.g. for a 3-10 plan, ages 2 and 12 are near, 1 and 13
        are not; for a 60+ plan, 55 is near and 54 is not.
        """
        if age < self.age_min:
            return self.age_min - age <= age_margin(age)
        if age > self.age_max:
            return age - self.age_max <= age_margin(self.age_max)
        return True

    def offers(self, setting: Format | Place) -> bool:
        """Whether the plan can run in this format (individual/group) or place (in-home, school, ...)."""
        return setting in self.formats or setting in self.settings

    def uses(self, technique: Technique | Method | Approach) -> bool:
        """Whether the plan is this NMT technique, uses this method, or belongs to this approach."""
        return technique in (self.technique, self.approach) or technique in self.methods

    def serves_population(self, population: str) -> bool:
        """Whether any listed population mentions `population` (case-insensitive: "parkinson" matches)."""
        wanted = population.casefold().strip()
        return any(wanted in listed.casefold() for listed in self.populations)

    def fill_objectives(self, **values: object) -> list[str]:
        """The objective templates with the given placeholders filled in; unknown ones stay visible.

        E.g. `fill_objectives(client="Sam", bpm=84)` leaves `{criterion}` for the therapist to complete.
        """
        return [string.Formatter().vformat(text, (), _KeepMissing(values)) for text in self.objectives]

    @property
    def approach_label(self) -> str:
        """ "NMT: RAS (Rhythmic Auditory Stimulation)" or just the approach name."""
        if self.technique is None:
            return str(self.approach)
        return f"{self.approach}: {self.technique} ({self.technique.full_name})"

    @property
    def age_label(self) -> str:
        if self.age_min == 0 and self.age_max == OLDEST:
            return "all ages"
        if self.age_max == OLDEST:
            return f"{self.age_min}+"
        return f"{self.age_min}-{self.age_max}"


class _KeepMissing(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
