"""The plan schema: what a valid plan, tempo preset and data template are, and what is refused."""

from __future__ import annotations

import copy
import json
import tomllib
from typing import Any

import pytest
from pydantic import ValidationError
from support.plan_files import VALID_PLAN

from interventions import DEFAULT_PROMPT_LEVELS, DataKind, DataTap, GoalDomain, Plan, TempoPreset
from interventions.errors import SchemaProblem


def valid() -> dict[str, Any]:
    return tomllib.loads(VALID_PLAN)


def problems(model: type[Plan | TempoPreset | DataTap], data: dict[str, Any]) -> dict[str, str]:
    """Field path -> message of every validation error."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return {".".join(map(str, e["loc"])): e["msg"] for e in caught.value.errors(include_url=False)}


def test_the_sample_plan_is_valid_and_keeps_its_values() -> None:
    plan = Plan.model_validate(valid())
    assert plan.id == "test-walk"
    assert plan.domains == [GoalDomain.GROSS_MOTOR]
    assert plan.tempo is not None and plan.tempo.ramp is not None
    assert plan.tempo.ramp.percent == 5
    assert [tap.kind for tap in plan.data] == [DataKind.TRIAL, DataKind.RATING]


def test_engine_kwargs_are_the_documented_plain_values() -> None:
    preset = Plan.model_validate(valid()).tempo
    assert preset is not None
    kwargs = preset.as_engine_kwargs()
    assert kwargs == {
        "bpm": 84,
        "bpm_min": 60,
        "bpm_max": 100,
        "meter": "4/4",
        "subdivision": 1,
        "accents": ["accent", "beat", "beat", "beat"],
        "swing": 0.0,
        "count_in_bars": 1,
        "cue": "click",
        "ramp": {"kind": "percent", "percent": 5, "every_bars": 8, "max_bpm": 100},
    }
    assert json.loads(json.dumps(kwargs)) == kwargs  # plain values only: no enums or models


def test_engine_kwargs_leave_out_what_the_author_did_not_set() -> None:
    kwargs = TempoPreset.model_validate({"bpm": 100, "ramp": {"kind": "linear", "to_bpm": 60, "beats": 64}})
    assert kwargs.as_engine_kwargs() == {
        "bpm": 100,
        "meter": "4/4",
        "subdivision": 1,
        "swing": 0.0,
        "count_in_bars": 1,
        "cue": "click",
        "ramp": {"kind": "linear", "to_bpm": 60, "beats": 64},
    }


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"bpm": 19}, "bpm", "greater than or equal to 20"),
        ({"bpm": 301, "bpm_max": None}, "bpm", "less than or equal to 300"),
        ({"bpm": 110}, "bpm", "outside the working range 60-100"),
        ({"bpm_max": 50}, "bpm_max", "below bpm_min"),
        ({"meter": "4-4"}, "meter", "not a time signature"),
        ({"meter": "4/3"}, "meter", "out of range"),
        ({"meter": "17/8"}, "meter", "out of range"),
        ({"subdivision": 5}, "subdivision", "not supported"),
        ({"subdivision": True}, "subdivision", "not supported"),
        ({"accents": ["accent", "beat", "beat"]}, "accents", "3 accent levels for a 4/4 bar"),
        ({"accents": ["accent", "loud", "beat", "beat"]}, "accents.1", "'accent', 'beat', 'sub' or 'silent'"),
        ({"swing": 0.6}, "swing", "less than or equal to 0.5"),
        ({"count_in_bars": 9}, "count_in_bars", "less than or equal to 8"),
        ({"cue": "Groovy March!"}, "cue", "not a cue name"),
        ({"adaptive": "always"}, "adaptive", "'off', 'follow' or 'entrain'"),
        ({"bpm": "84"}, "bpm", "valid number"),
        ({"tempo": 1}, "tempo", "Extra inputs"),
    ],
)
def test_tempo_preset_refuses_bad_values_naming_the_field(
    change: dict[str, Any], field: str, words: str
) -> None:
    data = {k: v for k, v in {**valid()["tempo"], **change}.items() if v is not None}
    found = problems(TempoPreset, data)
    assert field in found, found
    assert words in found[field]


@pytest.mark.parametrize(
    ("ramp", "field", "words"),
    [
        ({"kind": "percent", "percent": 5}, "ramp.every_bars", "needs every_bars"),
        (
            {"kind": "percent", "percent": 5, "every_bars": 8, "beats": 4},
            "ramp.beats",
            "not used by a percent",
        ),
        ({"kind": "linear", "to_bpm": 90}, "ramp.beats", "needs beats"),
        (
            {"kind": "linear", "to_bpm": 90, "beats": 8, "max_bpm": 100},
            "ramp.max_bpm",
            "not used by a linear",
        ),
        ({"kind": "percent", "percent": 0, "every_bars": 8}, "ramp.percent", "greater than 0"),
        ({"kind": "percent", "percent": 60, "every_bars": 8}, "ramp.percent", "less than or equal to 50"),
        ({"kind": "exponential"}, "ramp.kind", "'linear' or 'percent'"),
        ({"kind": "percent", "percent": 5, "every_bars": 8, "max_bpm": 80}, "ramp", "no room above"),
        ({"kind": "linear", "to_bpm": 130, "beats": 8}, "ramp", "leaves the working range 60-100"),
    ],
)
def test_ramp_refuses_inconsistent_settings(ramp: dict[str, Any], field: str, words: str) -> None:
    data = {**valid()["tempo"], "ramp": ramp}
    found = problems(TempoPreset, data)
    assert field in found, found
    assert words in found[field] or words in found[field].replace("does not leave room", "no room")


def test_a_ramp_problem_on_the_whole_table_names_the_key_at_fault() -> None:
    data = {**valid()["tempo"], "ramp": {"kind": "percent", "percent": 5, "every_bars": 8, "max_bpm": 80}}
    with pytest.raises(ValidationError) as caught:
        TempoPreset.model_validate(data)
    problem = caught.value.errors()[0]["ctx"]["error"]
    assert isinstance(problem, SchemaProblem)
    assert problem.field == "max_bpm"
    assert "raise max_bpm" in problem.fix


@pytest.mark.parametrize("meter", ["2/4", "3/4", "5/4", "6/8", "7/8", "9/8", "12/8", " 3 / 4 "])
def test_common_meters_are_accepted_and_normalised(meter: str) -> None:
    assert TempoPreset.model_validate({"bpm": 90, "meter": meter}).meter == meter.replace(" ", "")


def test_triplet_subdivision_and_compound_accents() -> None:
    preset = TempoPreset.model_validate(
        {
            "bpm": 60,
            "meter": "6/8",
            "subdivision": "triplet",
            "accents": ["accent", "sub", "sub", "beat", "sub", "sub"],
        }
    )
    assert preset.subdivision == "triplet"
    assert preset.summary() == "60 bpm, 6/8, subdivision triplet"


def test_data_taps_default_by_kind() -> None:
    trial = DataTap.model_validate({"kind": "trial", "label": "Reach"})
    rating = DataTap.model_validate({"kind": "Rating", "label": "Pain"})
    count = DataTap.model_validate({"kind": "count", "label": "Initiations"})
    assert trial.prompt_levels == list(DEFAULT_PROMPT_LEVELS)
    assert (rating.kind, rating.scale_min, rating.scale_max) == (DataKind.RATING, 0, 10)
    assert count.prompt_levels is None and count.scale_min is None
    assert trial.when == ["during"]


@pytest.mark.parametrize(
    ("tap", "field", "words"),
    [
        ({"kind": "count", "label": "x", "prompt_levels": ["a"]}, "prompt_levels", "apply to trials"),
        ({"kind": "trial", "label": "x", "scale_min": 1}, "scale_min", "applies to ratings"),
        (
            {"kind": "rating", "label": "x", "scale_min": 5, "scale_max": 5},
            "scale_max",
            "not above scale_min",
        ),
        ({"kind": "trial", "label": "x", "prompt_levels": ["a", "a"]}, "prompt_levels", "distinct"),
        ({"kind": "trial", "label": "   "}, "label", "blank"),
        ({"kind": "tally", "label": "x"}, "kind", "'trial', 'count'"),
        ({"kind": "rating", "label": "x", "when": ["before", "before"]}, "when", "twice"),
        ({"kind": "rating", "label": "x", "when": ["later"]}, "when.0", "'before', 'during' or 'after'"),
    ],
)
def test_data_taps_refuse_keys_of_other_kinds_and_bad_values(
    tap: dict[str, Any], field: str, words: str
) -> None:
    found = problems(DataTap, tap)
    assert field in found, found
    assert words in found[field]


def _with(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(valid())
    target = data
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field", "words"),
    [
        ("id", "Test Walk", "id", "not a plan id"),
        ("approach", "GIM", "technique", "approach is GIM"),
        ("technique", None, "technique", "needs its technique"),
        ("tempo", None, "tempo", "needs a tempo preset"),
        ("age_max", 30, "age_max", "below age_min"),
        ("domains", ["gross motor", "gross motor"], "domains", "listed twice"),
        ("domains", ["motor"], "domains.0", "'gross motor'"),
        ("domains", [], "domains", "at least 1"),
        ("steps", ["one", "two"], "steps", "at least 3"),
        ("objectives", ["{client} reaches {0} targets"], "objectives.0", "not a name"),
        ("objectives", ["{client reaches"], "objectives.0", "malformed"),
        ("precautions", None, "precautions", "Field required"),
        ("settings", ["moon"], "settings.0", "'in-home'"),
        ("data", [{"kind": "trial", "label": "A"}, {"kind": "count", "label": "a"}], "data", "listed twice"),
        ("colour", "blue", "colour", "Extra inputs"),
        ("adaptations.easier", "Slower", "adaptations.easier", "valid list"),
    ],
)
def test_plan_refuses_inconsistent_plans(path: str, value: Any, field: str, words: str) -> None:
    found = problems(Plan, _with(path, value))
    assert field in found, found
    assert words in found[field]


def test_plan_vocabulary_is_forgiving_about_case_hyphens_and_spelling() -> None:
    plan = Plan.model_validate(
        {
            **valid(),
            "domains": ["Gross-Motor", "QUALITY_OF_LIFE"],
            "approach": "nmt",
            "technique": "ras",
            "settings": ["Home", "telehealth"],
        }
    )
    assert [str(d) for d in plan.domains] == ["gross motor", "quality of life"]
    assert [str(s) for s in plan.settings] == ["in-home", "virtual"]
    assert plan.approach_label == "NMT: RAS (Rhythmic Auditory Stimulation)"


def test_summary_line_breaks_are_folded() -> None:
    plan = Plan.model_validate({**valid(), "summary": "Walk to\n  a steady\nbeat."})
    assert plan.summary == "Walk to a steady beat."


def test_objective_templates_fill_known_placeholders_and_keep_the_rest() -> None:
    plan = Plan.model_validate(valid())
    assert plan.fill_objectives(client="Sam", bpm=84) == ["Sam will walk at 84 bpm in {criterion}."]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("motor", {GoalDomain.GROSS_MOTOR, GoalDomain.FINE_MOTOR}),
        ("cognition", {GoalDomain.COGNITION_ACADEMIC}),
        ("Emotional", {GoalDomain.EMOTIONAL_REGULATION}),
        ("gross-motor", {GoalDomain.GROSS_MOTOR}),
        ("cognition/academic", {GoalDomain.COGNITION_ACADEMIC}),
        (GoalDomain.PAIN, {GoalDomain.PAIN}),
    ],
)
def test_goal_domain_aliases(text: str | GoalDomain, expected: set[GoalDomain]) -> None:
    assert GoalDomain.parse(text) == expected


def test_unknown_goal_domain_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown goal domain 'motr'; use one of: communication"):
        GoalDomain.parse("motr")


def test_the_goal_domains_are_the_twelve_of_the_brief_plus_behavioural_and_spiritual() -> None:
    assert [str(d) for d in GoalDomain] == [
        "communication", "cognition/academic", "gross motor", "fine motor", "sensory", "social",
        "emotional/regulation", "musical", "quality of life", "pain", "anxiety", "memory",
        "behavioural", "spiritual",
    ]  # fmt: skip


def test_adaptive_tempo_is_off_unless_the_plan_asks_and_stays_out_of_the_engine_values() -> None:
    assert TempoPreset.model_validate({"bpm": 90}).adaptive == "off"
    preset = TempoPreset.model_validate({"bpm": 90, "adaptive": "entrain"})
    assert preset.adaptive == "entrain" and "adaptive" not in preset.as_engine_kwargs()
    assert preset.summary().endswith("adaptive tempo: entrain")
