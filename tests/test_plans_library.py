"""The shipped library itself: enough real plans, covering the field, and the ids others rely on."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from interventions import (
    SHIPPED_DIR,
    Approach,
    DataKind,
    Format,
    GoalDomain,
    Library,
    Method,
    Plan,
    Technique,
)

REQUIRED_IDS = [
    "ras-gait-training", "timp-drum-reach", "pse-sit-to-stand", "mit-phrase-production", "ts-breath-support",
    "hello-song-greeting", "sycom-turn-taking-drum", "mact-attention-drumming", "song-recall-reminiscence",
    "iso-principle-relaxation", "lyric-analysis-coping", "choice-making-instruments",
    "keyboard-finger-isolation", "songwriting-feelings", "drum-circle-group-cohesion",
]  # fmt: skip
GAIT_TECHNIQUES = {Technique.RAS}
PLACEHOLDER = re.compile(r"(?i:lorem|ipsum|todo|tbd|fixme|xxx)|^Describe |^List ")  # the scaffold's wording


def test_every_shipped_plan_loads(library: Library) -> None:
    assert library.errors == []
    assert len(library.plans) == len(list(SHIPPED_DIR.glob("*.toml"))) >= 40


def test_file_names_match_ids(library: Library) -> None:
    for plan in library.plans:
        path = library.path_of(plan.id)
        assert path is not None and path.stem == plan.id


def test_the_ids_other_parts_of_the_app_use_exist(library: Library) -> None:
    assert [plan_id for plan_id in REQUIRED_IDS if library.get(plan_id) is None] == []


def test_required_plans_have_their_promised_shape(library: Library) -> None:
    def plan(plan_id: str) -> Plan:
        found = library.get(plan_id)
        assert found is not None
        return found

    ras = plan("ras-gait-training")
    assert ras.technique is Technique.RAS and GoalDomain.GROSS_MOTOR in ras.domains
    assert ras.tempo is not None and ras.tempo.ramp is not None and ras.tempo.ramp.kind == "percent"
    assert {"older adults", "stroke", "Parkinson's disease"} <= set(ras.populations)
    assert any(tap.kind is DataKind.CADENCE for tap in ras.data)
    assert any("gait belt" in text for text in ras.precautions)
    assert plan("timp-drum-reach").technique is Technique.TIMP
    assert {GoalDomain.GROSS_MOTOR, GoalDomain.FINE_MOTOR} <= set(plan("timp-drum-reach").domains)
    assert plan("timp-drum-reach").suits_age(6) and plan("timp-drum-reach").suits_age(70)
    assert plan("pse-sit-to-stand").technique is Technique.PSE and plan("pse-sit-to-stand").suits_age(80)
    assert plan("mit-phrase-production").serves_population("aphasia")
    assert plan("ts-breath-support").technique is Technique.TS
    assert Format.GROUP in plan("hello-song-greeting").formats and plan("hello-song-greeting").suits_age(5)
    assert plan("sycom-turn-taking-drum").technique is Technique.SYCOM
    assert GoalDomain.COGNITION_ACADEMIC in plan("mact-attention-drumming").domains
    assert Format.GROUP in plan("song-recall-reminiscence").formats
    assert {GoalDomain.ANXIETY, GoalDomain.PAIN} <= set(plan("iso-principle-relaxation").domains)
    assert plan("lyric-analysis-coping").serves_population("substance use")
    assert plan("choice-making-instruments").serves_population("AAC")
    assert plan("keyboard-finger-isolation").technique is Technique.TIMP
    assert Method.SONGWRITING in plan("songwriting-feelings").methods
    assert plan("drum-circle-group-cohesion").formats == [Format.GROUP]


def test_the_library_covers_the_field(library: Library) -> None:
    plans = library.plans
    domains = Counter(domain for plan in plans for domain in plan.domains)
    assert {domain: domains[domain] for domain in GoalDomain if domains[domain] < 3} == {}
    assert set(Technique) == {plan.technique for plan in plans if plan.technique is not None}
    assert set(Approach) == {plan.approach for plan in plans}
    assert set(Method) == {method for plan in plans for method in plan.methods}
    assert sum(plan.suits_age(6) for plan in plans) >= 15
    assert sum(plan.suits_age(80) for plan in plans) >= 15
    assert sum(Format.GROUP in plan.formats for plan in plans) >= 15
    assert sum(Format.INDIVIDUAL in plan.formats for plan in plans) >= 15


def test_tempos_are_clinically_sensible(library: Library) -> None:
    for plan in library.plans:
        if plan.tempo is None:
            continue
        # Gait tempos follow cadence: adults walk at about 100-120 steps/min, young children at 150-160.
        gait_high = 180 if plan.age_max < 18 else 140
        low, high = (40, gait_high) if plan.technique in GAIT_TECHNIQUES else (40, 200)
        tempo = plan.tempo
        values = [tempo.bpm, tempo.bpm_min, tempo.bpm_max]
        if tempo.ramp is not None:
            values += [tempo.ramp.to_bpm, tempo.ramp.max_bpm]
        assert all(low <= value <= high for value in values if value is not None), plan.id


def test_plans_are_complete_and_not_placeholders(library: Library) -> None:
    for plan in library.plans:
        texts = [plan.title, plan.summary, *plan.steps, *plan.precautions, *plan.materials, *plan.objectives]
        assert not [text for text in texts if PLACEHOLDER.search(text)], plan.id
        assert len(plan.steps) >= 5, plan.id
        assert len(plan.summary) >= 150, plan.id
        assert len(plan.objectives) >= 2, plan.id


def test_rhythm_driven_plans_record_timing(library: Library) -> None:
    for plan in library.plans:
        if plan.technique in {Technique.RAS}:
            kinds = {tap.kind for tap in plan.data}
            assert DataKind.CADENCE in kinds and DataKind.SYNC in kinds, plan.id


def test_shipped_files_are_plain_utf8_toml() -> None:
    for path in Path(SHIPPED_DIR).glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        assert text.endswith("\n") and "\t" not in text, path.name
