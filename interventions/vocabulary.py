"""The controlled vocabulary plans are written in: goal domains, approaches, techniques, formats, places.

Fixed vocabularies are what make filtering and suggestion reliable: a plan tagged "gross motor" is found
by every search for motor work, whereas free text would drift ("gross-motor", "Motor (gross)"...). Matching
is forgiving about case, hyphens and a few everyday synonyms (US spelling, "home", "telehealth") so that
both plan authors and CLI users can type what they naturally would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from functools import cache
from typing import TypeVar

E = TypeVar("E", bound=StrEnum)


def normalise(text: str) -> str:
    """Fold case and treat hyphens, underscores and runs of spaces alike ("Gross-Motor" == "gross motor")."""
    return " ".join(text.casefold().replace("-", " ").replace("_", " ").split())


class GoalDomain(StrEnum):
    """The goal domains both a client's goals and the plans that serve them are filed under (one list, so
    a pain goal is found by pain plans, not filed as "emotional")."""

    COMMUNICATION = "communication"
    COGNITION_ACADEMIC = "cognition/academic"
    GROSS_MOTOR = "gross motor"
    FINE_MOTOR = "fine motor"
    SENSORY = "sensory"
    SOCIAL = "social"
    EMOTIONAL_REGULATION = "emotional/regulation"
    MUSICAL = "musical"
    QUALITY_OF_LIFE = "quality of life"
    PAIN = "pain"
    ANXIETY = "anxiety"
    MEMORY = "memory"
    BEHAVIOURAL = "behavioural"
    SPIRITUAL = "spiritual"

    @classmethod
    def parse(cls, text: str | GoalDomain) -> frozenset[GoalDomain]:
        """The domains a user means by `text`; "motor" means both gross and fine motor.

        Raises ValueError listing the valid names when nothing matches.
        """
        if isinstance(text, GoalDomain):
            return frozenset({text})
        key = normalise(text)
        found = DOMAIN_FILTER_ALIASES.get(key)
        if found is None:
            member = lookup(cls, text)
            if member is None:
                raise ValueError(unknown_choice("goal domain", text, [*cls, *DOMAIN_FILTER_ALIASES]))
            found = frozenset({member})
        return found

    @classmethod
    def one(cls, text: str | GoalDomain) -> GoalDomain:
        """The single domain `text` names (a goal is filed under one): ValueError for an unknown name, or
        for one that names several ("motor": gross or fine), saying which to choose from."""
        found = cls.parse(text)
        if len(found) > 1:
            choices = " or ".join(sorted(f'"{domain}"' for domain in found))
            raise ValueError(f'"{text}" names {len(found)} domains: choose {choices}')
        return next(iter(found))


class Approach(StrEnum):
    """The music therapy approach a plan belongs to."""

    BEHAVIOURAL = "behavioural"
    NMT = "NMT"
    NORDOFF_ROBBINS = "Nordoff-Robbins"
    GIM = "GIM"
    HUMANISTIC = "humanistic"
    COGNITIVE_BEHAVIOURAL = "cognitive-behavioural"


class Technique(StrEnum):
    """Neurologic Music Therapy techniques, by their standard codes (Thaut & Hoemberg, Handbook of NMT)."""

    RAS = "RAS"
    PSE = "PSE"
    TIMP = "TIMP"
    MIT = "MIT"
    MUSTIM = "MUSTIM"
    RSC = "RSC"
    OMREX = "OMREX"
    VIT = "VIT"
    TS = "TS"
    DSLM = "DSLM"
    SYCOM = "SYCOM"
    MSOT = "MSOT"
    APT = "APT"
    MACT = "MACT"
    MNT = "MNT"
    MEFT = "MEFT"
    MMT = "MMT"
    AMMT = "AMMT"
    MPC = "MPC"

    @property
    def full_name(self) -> str:
        return TECHNIQUE_NAMES[self]


TECHNIQUE_NAMES: Mapping[Technique, str] = {
    Technique.RAS: "Rhythmic Auditory Stimulation",
    Technique.PSE: "Patterned Sensory Enhancement",
    Technique.TIMP: "Therapeutic Instrumental Music Performance",
    Technique.MIT: "Melodic Intonation Therapy",
    Technique.MUSTIM: "Musical Speech Stimulation",
    Technique.RSC: "Rhythmic Speech Cueing",
    Technique.OMREX: "Oral Motor and Respiratory Exercises",
    Technique.VIT: "Vocal Intonation Therapy",
    Technique.TS: "Therapeutic Singing",
    Technique.DSLM: "Developmental Speech and Language Training through Music",
    Technique.SYCOM: "Symbolic Communication Training through Music",
    Technique.MSOT: "Musical Sensory Orientation Training",
    Technique.APT: "Auditory Perception Training",
    Technique.MACT: "Musical Attention Control Training",
    Technique.MNT: "Musical Neglect Training",
    Technique.MEFT: "Musical Executive Function Training",
    Technique.MMT: "Musical Mnemonics Training",
    Technique.AMMT: "Associative Mood and Memory Training",
    Technique.MPC: "Music in Psychosocial Training and Counselling",
}


class Method(StrEnum):
    """The family of music experience an intervention uses."""

    SINGING = "singing"
    INSTRUMENT_PLAYING = "instrument-playing"
    LISTENING = "listening"
    MOVEMENT = "movement"
    SONGWRITING = "songwriting"
    IMPROVISATION = "improvisation"
    LYRIC_ANALYSIS = "lyric-analysis"
    RELAXATION = "relaxation"
    GUIDED_IMAGERY = "guided-imagery"


class Format(StrEnum):
    """Who is in the room: one client or a group."""

    INDIVIDUAL = "individual"
    GROUP = "group"


class Place(StrEnum):
    """Where the session happens."""

    IN_HOME = "in-home"
    SCHOOL = "school"
    STUDIO = "studio"
    CLINIC = "clinic"
    HOSPITAL = "hospital"
    MEMORY_CARE = "memory-care"
    HOSPICE = "hospice"
    RESIDENTIAL = "residential"
    COMMUNITY = "community"
    VIRTUAL = "virtual"


_ALIASES: Mapping[type[StrEnum], Mapping[str, StrEnum]] = {
    Approach: {
        "behavioral": Approach.BEHAVIOURAL,
        "neurologic music therapy": Approach.NMT,
        "neurologic": Approach.NMT,
        "guided imagery and music": Approach.GIM,
        "bonny method": Approach.GIM,
        "cognitive behavioral": Approach.COGNITIVE_BEHAVIOURAL,
        "cbt": Approach.COGNITIVE_BEHAVIOURAL,
    },
    Place: {
        "home": Place.IN_HOME,
        "telehealth": Place.VIRTUAL,
        "online": Place.VIRTUAL,
        "nursing home": Place.MEMORY_CARE,
    },
    Format: {"1:1": Format.INDIVIDUAL, "one to one": Format.INDIVIDUAL},
    Method: {"instruments": Method.INSTRUMENT_PLAYING, "imagery": Method.GUIDED_IMAGERY},
}

DOMAIN_FILTER_ALIASES: Mapping[str, frozenset[GoalDomain]] = {
    "motor": frozenset({GoalDomain.GROSS_MOTOR, GoalDomain.FINE_MOTOR}),
    "sensorimotor": frozenset({GoalDomain.SENSORY, GoalDomain.GROSS_MOTOR, GoalDomain.FINE_MOTOR}),
    "gross": frozenset({GoalDomain.GROSS_MOTOR}),
    "fine": frozenset({GoalDomain.FINE_MOTOR}),
    "cognition": frozenset({GoalDomain.COGNITION_ACADEMIC}),
    "cognitive": frozenset({GoalDomain.COGNITION_ACADEMIC}),
    "academic": frozenset({GoalDomain.COGNITION_ACADEMIC}),
    "emotional": frozenset({GoalDomain.EMOTIONAL_REGULATION}),
    "emotion": frozenset({GoalDomain.EMOTIONAL_REGULATION}),
    "regulation": frozenset({GoalDomain.EMOTIONAL_REGULATION}),
    "self regulation": frozenset({GoalDomain.EMOTIONAL_REGULATION}),
    "speech": frozenset({GoalDomain.COMMUNICATION}),
    "language": frozenset({GoalDomain.COMMUNICATION}),
    "music": frozenset({GoalDomain.MUSICAL}),
    "qol": frozenset({GoalDomain.QUALITY_OF_LIFE}),
    "wellbeing": frozenset({GoalDomain.QUALITY_OF_LIFE}),
    "stress": frozenset({GoalDomain.ANXIETY}),
    "socio emotional": frozenset({GoalDomain.SOCIAL, GoalDomain.EMOTIONAL_REGULATION}),
    "behavior": frozenset({GoalDomain.BEHAVIOURAL}),
    "behaviour": frozenset({GoalDomain.BEHAVIOURAL}),
    "behavioral": frozenset({GoalDomain.BEHAVIOURAL}),
    "spirituality": frozenset({GoalDomain.SPIRITUAL}),
}


@cache
def _names(enum_cls: type[StrEnum]) -> Mapping[str, StrEnum]:
    """Every accepted spelling of each member, normalised: aliases, member names, then values."""
    names: dict[str, StrEnum] = dict(_ALIASES.get(enum_cls, {}))
    names.update((normalise(member.name), member) for member in enum_cls)
    names.update((normalise(member.value), member) for member in enum_cls)
    return names


def lookup(enum_cls: type[E], text: str) -> E | None:
    """The member `text` names (by value, member name or alias, forgiving case and hyphens), or None."""
    found = _names(enum_cls).get(normalise(text))
    return found if isinstance(found, enum_cls) else None


def lenient(enum_cls: type[StrEnum]) -> Callable[[object], object]:
    """A pydantic before-validator that turns "Gross-Motor" into GoalDomain.GROSS_MOTOR.

    Unmatched input is passed through unchanged so pydantic's own error lists the valid values.
    """

    def convert(value: object) -> object:
        if isinstance(value, str):
            return lookup(enum_cls, value) or value
        return value

    return convert


def unknown_choice(what: str, text: str, choices: Iterable[object]) -> str:
    """The message for an unknown name: what was typed and every valid name, so the fix is on screen."""
    names = ", ".join(str(c) for c in choices)
    return f"unknown {what} {text!r}; use one of: {names}"


def parse_setting(text: str) -> Format | Place:
    """A `setting` filter value: a format (individual/group) or a place (in-home, school, ...)."""
    found = lookup(Format, text) or lookup(Place, text)
    if found is None:
        raise ValueError(unknown_choice("setting", text, [*Format, *Place]))
    return found


def parse_technique(text: str) -> Technique | Method | Approach:
    """A `technique` filter value: an NMT code (RAS), a method (songwriting) or an approach (GIM)."""
    found = lookup(Technique, text) or lookup(Method, text) or lookup(Approach, text)
    if found is None:
        raise ValueError(unknown_choice("technique", text, [*Technique, *Method, *Approach]))
    return found
