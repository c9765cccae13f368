"""Finding plans: filters, full-text search ranking and goal-based suggestions with their reasons."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from interventions import SHIPPED_DIR, Format, GoalDomain, Library, Place, Plan, Technique
from interventions.search import PlanIndex, searchable_text
from interventions.suggest import recognise_domains
from interventions.text import stem, terms


def ids(plans: list[Plan]) -> list[str]:
    return [plan.id for plan in plans]


# --- filters ---------------------------------------------------------------------------------------


def test_domain_filter_accepts_aliases(library: Library) -> None:
    motor = library.filter(domain="motor")
    assert motor and all({GoalDomain.GROSS_MOTOR, GoalDomain.FINE_MOTOR} & set(p.domains) for p in motor)
    assert set(ids(library.filter(domain="fine motor"))) < set(ids(motor))
    assert set(ids(library.filter(domain="gross motor"))) < set(ids(motor))
    assert ids(library.filter(domain="cognition")) == ids(
        library.filter(domain=GoalDomain.COGNITION_ACADEMIC)
    )


def test_filters_combine(library: Library) -> None:
    found = library.filter(domain="motor", technique="RAS", age=70, setting="in-home", population="parkinson")
    assert ids(found) == ["ras-gait-training"]
    children = library.filter(technique="ras", age=7)
    assert ids(children) == ["ras-pediatric-gait"]


def test_technique_filter_knows_codes_methods_and_approaches(library: Library) -> None:
    assert all(p.technique is Technique.TIMP for p in library.filter(technique="TIMP"))
    assert "songwriting-feelings" in ids(library.filter(technique="songwriting"))
    assert ids(library.filter(technique="Bonny Method")) == ["gim-music-imagery"]
    assert len(library.filter(technique="nmt")) == sum(p.technique is not None for p in library.plans)


def test_setting_filter_knows_formats_places_and_synonyms(library: Library) -> None:
    group = library.filter(setting="group")
    assert group and all(Format.GROUP in p.formats for p in group)
    assert ids(library.filter(setting="telehealth")) == ids(library.filter(setting=Place.VIRTUAL))


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ({"domain": "motr"}, "unknown goal domain 'motr'"),
        ({"technique": "XYZ"}, "unknown technique 'XYZ'"),
        ({"setting": "moon"}, "unknown setting 'moon'"),
    ],
)
def test_unknown_filter_values_are_errors_listing_choices(
    library: Library, criteria: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        library.filter(**criteria)  # type: ignore[arg-type]


# --- search ----------------------------------------------------------------------------------------


def test_stemming_matches_the_forms_people_type() -> None:
    same = [("walking", "walks"), ("drumming", "drum"), ("regulation", "regulate"), ("fingers", "finger")]
    same += [("relaxation", "relax"), ("memories", "memory"), ("children", "child"), ("steps", "stepping")]
    for a, b in same:
        assert stem(a) == stem(b), (a, b)
    assert terms("The client will walk with a steady beat, 8 of 10") == ["walk", "steady", "beat"]


@pytest.mark.parametrize("plan_id", sorted(path.stem for path in SHIPPED_DIR.glob("*.toml")))
def test_a_plans_own_title_finds_it_first(library: Library, plan_id: str) -> None:
    plan = library.get(plan_id)
    assert plan is not None
    assert library.search(plan.title)[0].id == plan_id
    assert library.search(plan_id)[0].id == plan_id


@pytest.mark.parametrize(
    ("query", "expected_first"),
    [
        ("aphasia", {"mit-phrase-production", "mustim-song-completion"}),
        ("gait Parkinson", {"ras-gait-training"}),
        ("hospice legacy", {"legacy-songwriting-hospice"}),
        ("turn taking", {"sycom-turn-taking-drum"}),
        ("neglect", {"mnt-neglect-chimes"}),
        ("ukulele", {"adapted-ukulele-lessons"}),
    ],
)
def test_search_ranks_the_obvious_plan_first(library: Library, query: str, expected_first: set[str]) -> None:
    assert library.search(query)[0].id in expected_first


def test_search_finds_word_forms_and_ranks_title_matches_above_passing_mentions(library: Library) -> None:
    found = ids(library.search("drumming"))
    assert {"timp-bilateral-drumming", "mact-attention-drumming", "drum-circle-group-cohesion"} <= set(found)
    titled = [i for i, plan_id in enumerate(found) if "drum" in plan_id]
    assert titled == list(range(len(titled)))  # every plan with "drum" in its name comes first


def test_search_keeps_plans_with_every_word_and_drops_weak_partial_matches(library: Library) -> None:
    index = PlanIndex(library.plans)
    matches = index.match("drum circle")
    with_both = {index.plans[i].id for i, m in matches.items() if m.terms == set(terms("drum circle"))}
    found = ids(library.search("drum circle"))
    assert found[0] == "drum-circle-group-cohesion"
    assert with_both <= set(found)
    assert len(found) < len(matches)  # plans that only mention "circle" in passing are left out


@pytest.mark.parametrize(
    ("query", "ages"),
    [("anxiety teens", (13, 19)), ("anxiety adolescents", (13, 19)), ("drum kids", (4, 12))],
)
def test_an_age_group_in_a_search_ranks_plans_for_those_ages_first(
    library: Library, query: str, ages: tuple[int, int]
) -> None:
    found = library.search(query)
    youngest, oldest = ages
    covers = [plan.age_min <= youngest and oldest <= plan.age_max for plan in found]
    assert covers[0], f"{found[0].id} is for ages {found[0].age_label}"
    assert covers == sorted(covers, reverse=True), "every plan for those ages before any other"
    assert not any(plan.age_min >= 60 for plan in found[:5])


def test_search_without_matches_is_empty(library: Library) -> None:
    assert library.search("xylophonic zeppelin") == []
    assert library.search("the and of") == []


@settings(max_examples=50, deadline=None, database=None)
@given(text=st.text(max_size=30))
@example(text="PERFORM")  # matches TIMP plans through the technique's full name only
def test_search_accepts_any_text_and_only_returns_plans_containing_its_words(
    library: Library, text: str
) -> None:
    wanted = set(terms(text))
    for plan in library.search(text):
        # What a plan is searched by includes more than its fields (a technique's full name, e.g.
        # "Therapeutic Instrumental Music Performance" for TIMP), so compare with that text.
        plan_terms = set(terms(" ".join(searchable_text(plan).values())))
        assert wanted & plan_terms


# --- suggestions -----------------------------------------------------------------------------------


def test_domains_are_recognised_from_goal_words() -> None:
    found = recognise_domains("Walk 10 m with a longer stride and request help verbally")
    assert found[GoalDomain.GROSS_MOTOR] == ["walk", "stride"]
    assert GoalDomain.COMMUNICATION in found


@pytest.mark.parametrize(
    ("goals", "kwargs", "expected"),
    [
        (["walk with a longer, steadier stride and a regular cadence"], {"age": 72}, "ras-gait-training"),
        (["walk with a longer, steadier stride"], {"age": 7}, "ras-pediatric-gait"),
        ([("communication", "request preferred items with an AAC device")], {}, "choice-making-instruments"),
        (["reduce anxiety before surgery"], {}, "procedural-support-music"),
        (["improve pincer grasp"], {}, "grasp-and-release-instruments"),
        (["produce short functional phrases despite non-fluent aphasia"], {}, "mit-phrase-production"),
        (["sustain attention to task for 5 minutes"], {"age": 9}, "mact-attention-drumming"),
        (["stand up from a chair without using armrests"], {"age": 80}, "pse-sit-to-stand"),
        (["will tap the drum on the beat at 80 bpm for 8 of 10 beats"], {}, "timp-drum-reach"),
    ],
)
def test_suggestions_rank_the_fitting_plan_in_the_top_three(
    library: Library, goals: list, kwargs: dict, expected: str
) -> None:
    top = [s.plan.id for s in library.suggest(goals, limit=3, **kwargs)]
    assert expected in top, top


def test_plans_serving_several_goals_rank_higher_and_say_so(library: Library) -> None:
    goals = ["recall familiar song lyrics and memories", "increase social interaction with peers"]
    best = library.suggest(goals, age=82)[0]
    assert best.plan.id == "song-recall-reminiscence"
    assert best.reasons[0] == "serves 2 of your 2 goals"
    assert any(reason.startswith('goal 1 "recall familiar song') for reason in best.reasons)


def test_every_suggestion_explains_itself_and_scores_descend(library: Library) -> None:
    found = library.suggest(["calm down when upset", ("motor", "reach across midline")], limit=None)
    assert found
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    for suggestion in found:
        assert suggestion.score > 0 and suggestion.reasons
        assert all(reason.startswith(("goal ", "serves ", "written for ")) for reason in suggestion.reasons)


def test_explicit_domain_is_used_and_named(library: Library) -> None:
    found = library.suggest([("pain", "feel more comfortable during dressing changes")], limit=3)
    assert all(GoalDomain.PAIN in s.plan.domains for s in found)
    assert "serves pain" in found[0].reasons[0]


def test_setting_is_a_hard_limit_and_age_a_soft_one(library: Library) -> None:
    for suggestion in library.suggest(
        ["walk steadily", "sing with others"], age=5, setting="group", limit=None
    ):
        assert Format.GROUP in suggestion.plan.formats
        # Just outside a plan's usual ages is allowed, and then said first; further out is not offered.
        assert suggestion.plan.near_age(5)
        assert suggestion.plan.suits_age(5) == (suggestion.outside_age == 0)
        assert suggestion.reasons[0].startswith("outside the usual age range") == (suggestion.outside_age > 0)


def test_population_favours_plans_written_for_it(library: Library) -> None:
    plain = {s.plan.id: s.score for s in library.suggest(["walk steadily"], limit=None)}
    favoured = library.suggest(["walk steadily"], population="parkinson", limit=None)
    boosted = [s for s in favoured if s.plan.serves_population("parkinson")]
    assert boosted and all(s.score > plain[s.plan.id] for s in boosted)
    assert all("written for parkinson" in s.reasons for s in boosted)


def test_goals_that_match_nothing_suggest_nothing(library: Library) -> None:
    assert library.suggest(["zyzzyva quux"]) == []


def test_empty_goal_and_unknown_domain_are_errors(library: Library) -> None:
    with pytest.raises(ValueError, match="goal 1 is empty"):
        library.suggest(["  "])
    with pytest.raises(ValueError, match="unknown goal domain"):
        library.suggest([("motr", "walk")])
