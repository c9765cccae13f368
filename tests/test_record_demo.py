"""The demo practice: deterministic, realistic enough to review, using the shipped plan ids, and
clinically right as a supervisor would check it (codes, plans for each client, the stroke side,
pseudonyms, groups)."""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from companion.demo.generate import generate_demo
from companion.demo.practice import CLIENTS, GROUPS, ClientSpec
from companion.record import Note, Record
from companion.record.billing import billed_lines, parse_code
from interventions.data_taps import DataKind
from interventions.library import Library
from interventions.vocabulary import Format

TODAY = date(2025, 6, 30)
SHIPPED_PLANS = {
    "ras-gait-training",
    "timp-drum-reach",
    "pse-sit-to-stand",
    "dslm-fill-in-songs",
    "hello-song-greeting",
    "sycom-turn-taking-drum",
    "mact-attention-drumming",
    "msot-orientation-song",
    "song-recall-reminiscence",
    "ammt-mood-memory",
    "iso-principle-relaxation",
    "progressive-muscle-relaxation",
    "lyric-analysis-coping",
    "choice-making-instruments",
    "keyboard-finger-isolation",
    "drumming-down-regulation",
    "freeze-dance-impulse-control",
    "drum-circle-group-cohesion",
}
MUSIC_THERAPY_CODES = {"97110", "97112", "97116", "97530", "92507", "G0176", "H2014"}
"""Codes a music therapist bills under for the service given (companion/record/billing.py)."""
THERAPY_PLAN_OF_CARE = {"97110": "GP", "97112": "GP", "97116": "GP", "97530": "GP", "92507": "GN"}
"""Codes billed under a physical therapy (GP) or speech-language (GN) plan of care carry its modifier."""


def is_aba_or_psychotherapy(code: str) -> bool:
    """ABA codes (97151-97158, 0362T, 0373T: a behaviour technician's or analyst's) and psychotherapy
    (90785-90899), which an MT-BC does not bill."""
    return code in {"0362T", "0373T"} or "97151" <= code <= "97158" or "90785" <= code <= "90899"


@pytest.fixture(scope="module")
def demos() -> Iterator[dict[str, Record]]:
    """The demo practice, generated once per module on each backend (a slow step), closed at the end."""
    opened: dict[str, Record] = {}
    yield opened
    for record in opened.values():
        record.close()


@pytest.fixture
def demo(
    demos: dict[str, Record],
    record_backend: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Record:
    """The demo practice on this test's backend (on PostgreSQL in a database of its own that outlives the
    test's, as the practice is shared by the module's tests)."""
    if record_backend not in demos:
        url = another_database(record_backend, request)
        record = Record.open(tmp_path_factory.mktemp("demo"), backup_every=None, database=url)
        generate_demo(record, today=TODAY)
        demos[record_backend] = record
    return demos[record_backend]


def another_database(record_backend: str, request: pytest.FixtureRequest) -> str | None:
    """On PostgreSQL a second, empty database (a second folder is a second record only with SQLite)."""
    if record_backend != "postgresql":
        return None
    return str(request.getfixturevalue("postgres_server").fresh_url())


def specs() -> dict[str, ClientSpec]:
    return {spec.name: spec for spec in (*CLIENTS, *(m for group in GROUPS for m in group.members))}


def practice(path: Path, database: str | None = None) -> list[tuple[str, int, list[float]]]:
    with Record.open(path, backup_every=None, database=database) as record:
        generate_demo(record, today=TODAY)
        return [
            (
                c.display_name,
                len(record.sessions.sessions(c.id)),
                [p.latest or 0 for p in record.progress.client_progress(c.id)],
            )
            for c in record.caseload.clients()
        ]


def test_demo_is_deterministic_and_improving(
    tmp_path: Path, record_backend: str, request: pytest.FixtureRequest
) -> None:
    first = practice(tmp_path / "a")
    assert first == practice(tmp_path / "b", another_database(record_backend, request))
    assert len(first) == len(CLIENTS) + sum(len(group.members) for group in GROUPS) == 9
    assert all(sessions >= 10 for _, sessions, _ in first)
    with Record.open(tmp_path / "a", backup_every=None) as record:
        progress = [p for c in record.caseload.clients() for p in record.progress.client_progress(c.id)]
        improving = [p for p in progress if p.slope_per_week is not None and p.slope_per_week != 0]
        assert len(improving) == len(progress)
        assert sum(p.mastered for p in progress) >= len(progress) // 2
        used = {plan for s in record.sessions.sessions() for plan in s.plan_ids}
        assert used <= SHIPPED_PLANS and len(used) >= 14
        last = record.sessions.sessions(record.caseload.find_client("Mr. G").id)[-1]
        note = record.notes.note(last.id, last.client_ids[0])
        assert note.finalised and "steps/min" in note.objective and note.subjective and note.plan
        assert max(s.date for s in record.sessions.sessions()) <= TODAY


def test_demo_group_sessions_log_each_child_separately(tmp_path: Path) -> None:
    with Record.open(tmp_path / "demo", backup_every=None) as record:
        generate_demo(record, today=TODAY)
        group = [s for s in record.sessions.sessions() if len(s.client_ids) == 3]
        assert len(group) >= 10
        last = group[-1]
        trials = [e for e in record.events.session_events(last.id) if e.kind == "trial"]
        assert all(sum(e.client_id == child for e in trials) == 10 for child in last.client_ids)
        notes = [record.notes.note(last.id, client_id) for client_id in last.client_ids]
        assert all(note.finalised and "independent" in note.objective for note in notes)


def test_demo_has_a_client_for_each_kind_of_data(tmp_path: Path) -> None:
    with Record.open(tmp_path, backup_every=None) as record:
        generate_demo(record, today=TODAY)
        leo, mr_g, maya = (record.caseload.find_client(name) for name in ("Leo", "Mr. G", "Maya"))
        own = [o for o in record.caseload.objectives(leo.id) if o.prompt_levels]
        assert [o.prompt_levels[-1] for o in own] == ["full model"]  # trials on the objective's own hierarchy
        walk = next(o for o in record.caseload.objectives(mr_g.id) if o.criterion.metric == "measure_last")
        assert record.progress.objective_progress(walk.id).mastered  # a timed walk in seconds, at most 12
        on_task = next(o for o in record.caseload.objectives(maya.id) if o.criterion.metric == "interval_pct")
        assert len(record.progress.objective_progress(on_task.id).points) >= 10  # momentary time sampling
        group = record.sessions.sessions(maya.id)
        observed = [s for s in group if record.sessions.second_observers(s.id)]
        assert len(observed) >= 3 and all(record.sessions.agreement(s.id) for s in observed)
        measures = {a.measure for s in observed for a in record.sessions.agreement(s.id)}
        assert measures == {"trial-by-trial", "total count", "interval-by-interval"}
        figures = [a.agreement_pct for s in observed for a in record.sessions.agreement(s.id)]
        assert statistics.fmean(figures) >= 80 and min(figures) < 100  # observers differ a little, as they do


def test_demo_bills_only_what_a_music_therapist_bills(demo: Record) -> None:
    """No ABA-technician (97153) or psychotherapy (90837) codes; each code fits the setting (HQ on a group,
    GP/GN under a therapy plan of care), works out into units, and its client has a diagnosis."""
    clients = {c.id: c for c in demo.caseload.clients()}
    billed = [s for s in demo.sessions.sessions() if s.cpt_codes]
    assert {clients[i].display_name for s in billed for i in s.client_ids} >= {"Leo", "Mr. G", "Jay", "Maya"}
    for session in billed:
        codes = [parse_code(text) for text in session.cpt_codes]
        for code in codes:
            assert not is_aba_or_psychotherapy(code.code), (session.id, code.text)
            assert code.code in MUSIC_THERAPY_CODES, code.text
            if code.code in THERAPY_PLAN_OF_CARE:
                assert THERAPY_PLAN_OF_CARE[code.code] in code.modifiers, code.text
            assert ("HQ" in code.modifiers) == session.is_group, code.text
        assert isinstance(billed_lines(codes, session.duration_minutes), list)
        assert all(clients[i].diagnoses for i in session.client_ids)
    assert not any(is_aba_or_psychotherapy(parse_code(c).code) for spec in specs().values() for c in spec.cpt)


def test_demo_plans_fit_each_client_s_age_population_and_format(demo: Record, tmp_path: Path) -> None:
    """Every plan a client works on suits their age (age_min/age_max), serves their population, and is run
    in a format it offers (a group-only drum circle is never an individual session)."""
    library = Library.load(tmp_path / "no-user-plans")
    by_name = specs()
    checked: set[str] = set()
    for client in demo.caseload.clients():
        spec = by_name[client.display_name]
        assert client.birth_year is not None and TODAY.year - client.birth_year == spec.age
        assert spec.fits, f"{spec.name}: name the library populations the client belongs to"
        for session in demo.sessions.sessions(client.id):
            shape = Format.GROUP if session.is_group else Format.INDIVIDUAL
            for plan_id in session.plan_ids:
                plan = library.get(plan_id)
                assert plan is not None, plan_id
                assert plan.suits_age(spec.age), f"{plan_id} ({plan.age_label}) for {spec.name}, {spec.age}"
                assert any(plan.serves_population(term) for term in spec.fits), f"{plan_id} for {spec.name}"
                assert plan.offers(shape), f"{plan_id} is not run as {shape} ({spec.name})"
                checked.add(spec.name)
    assert checked == set(by_name)


def test_demo_objectives_are_measured_as_their_kind_of_data(demo: Record, tmp_path: Path) -> None:
    """Each criterion suits the data taken, a measure has its unit, lower is better for pain, anxiety and
    walk time, and an objective's own prompt hierarchy is its plan's."""
    metrics = {
        "trials": {"percent_independent", "percent_correct"},
        "count": {"count"},
        "duration": {"duration_seconds"},
        "rating": {"rating_change", "rating_after"},
        "sync": {"sync_pct_within"},
        "cadence": {"cadence_spm"},
        "measure": {"measure_last"},
        "sample": {"interval_pct"},
    }
    library = Library.load(tmp_path / "no-user-plans")
    for spec in specs().values():
        for objective in spec.objectives:
            assert objective.criterion.metric in metrics[objective.measure], objective.description
            if objective.measure == "measure":
                assert objective.unit and objective.label
            if objective.label in ("pain", "anxiety", "10 m walk time"):
                assert objective.criterion.direction == "at_most", objective.description
            if objective.prompt_levels:
                plan = library.get(objective.plan)
                assert plan is not None
                taps = [tap for tap in plan.data if tap.kind == DataKind.TRIAL and tap.prompt_levels]
                assert [tuple(tap.prompt_levels or ()) for tap in taps] == [objective.prompt_levels]
    leo = demo.caseload.find_client("Leo")
    dslm = ("independent", "first sound", "sign or picture", "full model")
    assert any(o.prompt_levels == dslm for o in demo.caseload.objectives(leo.id))


def test_demo_pseudonyms_are_unique_and_not_made_from_names(demo: Record) -> None:
    """De-identified papers name each client apart, and no pseudonym is the client's initial (Safe Harbor:
    a code not derived from the person) or reads as another client's."""
    clients = demo.caseload.clients()
    pseudonyms = [c.pseudonym or "" for c in clients]
    assert all(pseudonyms) and len(set(pseudonyms)) == len(pseudonyms) == len(specs())
    initials = {word[0].upper() for c in clients for word in c.display_name.split()}
    assert not any(p.removeprefix("Client ").upper() in initials for p in pseudonyms), pseudonyms
    assert all(demo.caseload.find_client(c.pseudonym or "").id == c.id for c in clients)


def test_demo_groups_are_logged_as_groups(demo: Record) -> None:
    """A group meets as one session with every member in it, each tap naming its child (on that child's
    own objective); no client is a group, and no individual client's objective is about peers."""
    for spec in CLIENTS:
        described = f"{spec.name} {spec.population} {spec.setting}".casefold()
        assert "group" not in described and "students" not in described, spec.name
        assert not any("peer" in o.description.casefold() for o in spec.objectives), spec.name
    for group in GROUPS:
        members = [demo.caseload.find_client(member.name).id for member in group.members]
        sessions = demo.sessions.sessions(members[0])
        assert len(sessions) >= 10 and all(set(s.client_ids) == set(members) for s in sessions)
        assert all(demo.sessions.sessions(member) == sessions for member in members)
        owner = {o.id: member for member in members for o in demo.caseload.objectives(member)}
        for session in sessions:
            taps = [e for e in demo.events.session_events(session.id) if e.objective_id is not None]
            assert all(e.client_id == owner.get(e.objective_id or 0) for e in taps)
            assert {e.client_id for e in taps} == set(members)
    seen_alone = {
        demo.caseload.client(s.client_ids[0]).display_name for s in demo.sessions.sessions() if not s.is_group
    }
    assert seen_alone == {spec.name for spec in CLIENTS}


LEFT_SIDE = re.compile(r"\bleft\s+(?:arm|hand|leg|foot|side|fingers?|shoulder|knee|hip)\b", re.IGNORECASE)


def test_demo_left_mca_stroke_weakens_the_right_side(demo: Record) -> None:
    """A left middle cerebral artery stroke affects the right side of the body: the population, the
    diagnosis code, the objectives, the client's quotes and every note say so, never the left."""
    strokes = [c for c in demo.caseload.clients() if "left mca" in c.population.casefold()]
    assert strokes
    for client in strokes:
        assert "right hemiparesis" in client.population
        sequelae = [code for code in client.diagnoses if code.startswith("I69.")]
        assert sequelae and all(code[-1] in "13" for code in sequelae)  # 1/3: right dominant/non-dominant
        texts = [client.population]
        texts += [g.description for g in demo.caseload.goals(client.id)]
        texts += [o.description for o in demo.caseload.objectives(client.id)]
        for session in demo.sessions.sessions(client.id):
            texts += [
                e.payload.text for e in demo.events.session_events(session.id) if isinstance(e.payload, Note)
            ]
            note = demo.notes.note(session.id, client.id)
            texts += [note.subjective, note.objective, note.observations, note.assessment, note.plan]
            texts.append(note.home_report)
        assert not [text for text in texts if LEFT_SIDE.search(text)]
        assert any("right hand" in text for text in texts) and any("right arm" in text for text in texts)
        assert any("right foot" in text for text in texts)  # the client's own words
