"""Library safety and reach: contraindications where the literature has them, the plans therapists use
daily, and ages that are soft at the edges of a plan's range when suggesting plans for a client."""

from __future__ import annotations

from pathlib import Path

import pytest

from interventions import SHIPPED_DIR, Library, Plan, Technique
from interventions.plan import age_margin
from interventions.suggest import OUTSIDE_AGE_FACTOR

#: The everyday plans added for reach, each with a query a therapist would type to find it.
EVERYDAY = {
    "goodbye-song-closing": "goodbye song",
    "transition-songs": "transition song",
    "following-directions-song": "following directions",
    "motor-imitation-action-song": "motor imitation",
    "body-parts-song": "body parts song",
    "personalised-music-agitation-dementia": "agitation dementia",
    "referential-improvisation": "referential improvisation",
    "free-improvisation-adults": "free improvisation adults",
    "mpc-social-competence": "social competence",
    "blues-songwriting-recovery": "blues songwriting substance use",
    "daily-living-routine-songs": "daily living routine",
    "music-pain-management": "music for pain",
    "instrument-sharing-group": "instrument sharing",
    "vocal-improvisation-toning": "toning",
    "cognitive-stimulation-dementia": "cognitive stimulation dementia",
    "nicu-entrained-lullaby": "NICU",
    "vibroacoustic-therapy": "vibroacoustic",
}


def plan(library: Library, plan_id: str) -> Plan:
    found = library.get(plan_id)
    assert found is not None, plan_id
    return found


def text_of(*parts: list[str]) -> str:
    return " ".join(text for part in parts for text in part).casefold()


# --- every plan loads, and the everyday ones are there ----------------------------------------------


def test_every_shipped_plan_loads_including_the_everyday_ones(library: Library) -> None:
    assert library.errors == []
    assert {path.stem for path in Path(SHIPPED_DIR).glob("*.toml")} == {p.id for p in library.plans}
    assert [plan_id for plan_id in EVERYDAY if library.get(plan_id) is None] == []
    assert len(library.plans) >= 51 + 15


@pytest.mark.parametrize("plan_id", sorted(EVERYDAY))
def test_everyday_plans_are_complete(library: Library, plan_id: str) -> None:
    found = plan(library, plan_id)
    assert len(found.steps) >= 5 and len(found.objectives) >= 2
    assert found.populations and found.precautions and found.data
    assert found.adaptations.easier and found.adaptations.harder


@pytest.mark.parametrize(("plan_id", "query"), sorted(EVERYDAY.items()))
def test_search_finds_each_everyday_plan_first(library: Library, plan_id: str, query: str) -> None:
    assert library.search(query)[0].id == plan_id


def test_the_everyday_kinds_are_found_by_their_usual_names(library: Library) -> None:
    assert library.search("Gerdner")[0].id == "personalised-music-agitation-dementia"
    assert "mpc-social-competence" in [p.id for p in library.filter(technique="MPC")]
    assert {"referential-improvisation", "free-improvisation-adults"} <= {
        p.id for p in library.filter(technique="improvisation", age=40)
    }
    assert "blues-songwriting-recovery" in [p.id for p in library.filter(population="substance use")]
    assert plan(library, "mpc-social-competence").technique is Technique.MPC


# --- contraindications and candidacy -------------------------------------------------------------------


@pytest.mark.parametrize("plan_id", ["vibroacoustic-therapy", "sensory-vibration-exploration"])
def test_vibration_plans_name_the_vibroacoustic_contraindications(library: Library, plan_id: str) -> None:
    contra = text_of(plan(library, plan_id).contraindications)
    for word in ("pacemaker", "thrombosis", "bleeding", "pregnan"):
        assert word in contra, (plan_id, word)
    assert "deep vein thrombosis" in contra


def test_mit_names_its_poor_candidates(library: Library) -> None:
    mit = plan(library, "mit-phrase-production")
    contra = text_of(mit.contraindications)
    assert "fluent aphasia" in contra and "wernicke" in contra
    assert "poor auditory comprehension" in contra
    assert any(text.startswith("Candidacy") for text in mit.precautions)


def test_pmr_is_contraindicated_in_uncontrolled_hypertension(library: Library) -> None:
    contra = text_of(plan(library, "progressive-muscle-relaxation").contraindications)
    assert "uncontrolled hypertension" in contra and "release-only" in contra


def test_ras_covers_parkinsons_medication_timing_and_freezing(library: Library) -> None:
    ras = plan(library, "ras-gait-training")
    precautions = text_of(ras.precautions)
    assert "'on'" in precautions and "dose" in precautions
    assert "freezing of gait" in precautions
    assert "freezing" in text_of(ras.contraindications)


def test_nicu_work_is_gated_by_training_and_clearance(library: Library) -> None:
    nicu = plan(library, "nicu-entrained-lullaby")
    contra, precautions = text_of(nicu.contraindications), text_of(nicu.precautions)
    assert "nicu music therapy training" in contra and "clearance" in contra
    assert "nicu-mt" in precautions and "medical team" in precautions
    for sign in ("overstimulation", "apnoea", "bradycardia", "desaturation", "gaze aversion", "finger splay"):
        assert sign in precautions, sign
    assert nicu.age_max <= 1
    assert "nicu" in text_of(plan(library, "parent-infant-lullaby").contraindications)


@pytest.mark.parametrize(
    ("plan_id", "word"),
    [
        ("omrex-wind-instruments", "pneumothorax"),
        ("vit-vocal-range", "voice rest"),
        ("ts-breath-support", "voice rest"),
        ("vocal-improvisation-toning", "voice rest"),
        ("pse-sit-to-stand", "weight-bearing"),
        ("pse-seated-exercise-group", "unstable"),
        ("referential-improvisation", "psychosis"),
        ("free-improvisation-adults", "psychosis"),
    ],
)
def test_other_plans_with_known_contraindications_state_them(
    library: Library, plan_id: str, word: str
) -> None:
    assert word in text_of(plan(library, plan_id).contraindications)


# --- soft age ranges -------------------------------------------------------------------------------


def test_the_age_margin_is_smaller_the_younger_the_edge() -> None:
    assert [age_margin(years) for years in (0, 5, 6, 17, 18, 60, 120)] == [1, 1, 2, 2, 5, 5, 5]


def test_near_age_extends_the_range_by_the_margin_at_each_edge(library: Library) -> None:
    base = plan(library, "hello-song-greeting")
    child = base.model_copy(update={"age_min": 3, "age_max": 10})
    assert [age for age in range(0, 16) if child.near_age(age)] == list(range(2, 13))
    assert [child.years_outside_age(age) for age in (1, 3, 10, 13)] == [2, 0, 0, 3]
    older = base.model_copy(update={"age_min": 60, "age_max": 120})
    assert older.near_age(55) and not older.near_age(54) and not older.near_age(8)
    infant = base.model_copy(update={"age_min": 0, "age_max": 1})
    assert infant.near_age(2) and not infant.near_age(3)
    assert all(child.suits_age(age) == (3 <= age <= 10) for age in range(0, 16))  # suits_age stays exact


def test_a_client_just_outside_the_range_is_suggested_the_plan_flagged_and_ranked_lower(
    library: Library,
) -> None:
    goals = ["recall familiar song lyrics and memories", "increase social interaction with peers"]
    inside = {s.plan.id: s for s in library.suggest(goals, age=70, limit=None)}
    near = {s.plan.id: s for s in library.suggest(goals, age=57, limit=None)}
    reminiscence = plan(library, "song-recall-reminiscence")
    assert reminiscence.age_min == 60
    flagged = near["song-recall-reminiscence"]
    assert flagged.outside_age == 3 and inside["song-recall-reminiscence"].outside_age == 0
    assert flagged.reasons[0] == "outside the usual age range: ages 60+, client 57"
    expected = inside["song-recall-reminiscence"].score * OUTSIDE_AGE_FACTOR
    assert flagged.score == pytest.approx(expected, abs=0.01)
    assert all(not s.reasons[0].startswith("outside") for s in inside.values())
    for suggestion in near.values():
        assert suggestion.plan.near_age(57)
        assert (suggestion.outside_age > 0) == (not suggestion.plan.suits_age(57))
        assert suggestion.reasons[0].startswith("outside the usual age range") == (suggestion.outside_age > 0)


def test_a_client_well_outside_the_range_is_not_suggested_the_plan(library: Library) -> None:
    goals = ["recall familiar song lyrics and memories"]
    assert "song-recall-reminiscence" not in [s.plan.id for s in library.suggest(goals, age=50, limit=None)]
    walking = [s.plan.id for s in library.suggest(["walk with a longer stride"], age=7, limit=None)]
    assert "ras-pediatric-gait" in walking and "ras-gait-training" not in walking


def test_in_range_plans_outrank_an_equally_fitting_plan_outside_the_range(library: Library) -> None:
    found = library.suggest(["walk with a longer, steadier stride and a regular cadence"], age=16, limit=None)
    ids = [s.plan.id for s in found]
    assert ids.index("ras-pediatric-gait") < ids.index("ras-gait-training")
    adult = found[ids.index("ras-gait-training")]
    assert adult.outside_age == 2 and adult.reasons[0] == "outside the usual age range: ages 18+, client 16"


def test_filters_keep_ages_exact(library: Library) -> None:
    assert "song-recall-reminiscence" not in [p.id for p in library.filter(age=57)]
    assert all(p.suits_age(57) for p in library.filter(age=57))
