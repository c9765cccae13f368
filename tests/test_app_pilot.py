"""Whole sessions driven through the app with Textual's pilot, checked afterwards in the SQLite file."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import pytest
from rich.style import Style
from support.pilot import SIZE, app_for, log_lines, on_screen, ready, settled, start_session, until
from support.practice import NOW, Practice, make_practice, write_lock
from textual.pilot import Pilot
from textual.widgets import Button, Input, OptionList, Static, TextArea

from companion.app.screens.dialogs import Confirm, FieldsPrompt, Pick, TextPrompt
from companion.app.screens.help import HelpScreen
from companion.app.screens.measure import MeasureDialog
from companion.app.screens.note_editor import SoapScreen
from companion.app.screens.plans import PlansScreen
from companion.app.screens.problem import StartupProblem
from companion.app.screens.rating import RatingDialog
from companion.app.screens.review import ProgressChart, ReviewScreen
from companion.app.screens.sampling import SampleDialog
from companion.app.screens.session.screen import LiveSessionScreen
from companion.app.screens.start_session import StartSession
from companion.app.screens.today import TodayScreen
from companion.app.screens.walk import WalkDialog
from companion.app.widgets.session_log import Shown
from companion.live.session_controller import LiveSession
from companion.record import Abc, Count, Intervention, Note, Rating, Record, Sample, Trial, Walk


async def open_review(pilot: Pilot[None], sessions: int) -> ReviewScreen:
    """From Today: `r`, then wait until the first client's `sessions` sessions are listed."""
    await ready(pilot)
    await pilot.press("r")
    review = await on_screen(pilot, ReviewScreen)
    await until(pilot, lambda: review.query_one("#session-table").row_count == sessions)
    return review


def pending(line: Shown) -> bool:
    return not line.entry.saved


async def test_a_whole_session_from_start_to_saved_note(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_session(pilot)
        opening = len(log_lines(app))  # the opening intervention switch
        for key in ["plus", "plus", "minus", "equals_sign", "3"]:
            await pilot.press(key)
        await until(pilot, lambda: len(log_lines(app)) == opening + 5)
        assert "4/5 correct · 60% independent" in str(screen.query_one("#objective").render())
        await pilot.press("u")
        await until(pilot, lambda: any(line.entry.undone for line in log_lines(app)))
        assert "3/4 correct · 75% independent" in str(screen.query_one("#objective").render())
        await pilot.press("right_square_bracket", "c")  # the first count on "Takes turns": counting what?
        await on_screen(pilot, Pick)
        assert app.screen.choices[0] == ("Takes turns on the drum", "Takes turns on the drum")
        await pilot.press("1")  # the objective itself; asked once
        await on_screen(pilot, LiveSessionScreen)
        await pilot.press("c")
        await pilot.press("n")
        await on_screen(pilot, TextPrompt)
        await pilot.press(*"more drum please", "enter")
        await on_screen(pilot, LiveSessionScreen)
        await pilot.press("r")
        await on_screen(pilot, RatingDialog)
        await pilot.press("7")
        await on_screen(pilot, LiveSessionScreen)
        await until(pilot, lambda: len(log_lines(app)) == opening + 9)
        session_id = screen.live.session.id
        await pilot.press("e")
        await on_screen(pilot, Confirm)
        await pilot.press("enter")
        await on_screen(pilot, SoapScreen)
        soap = app.screen
        await until(pilot, lambda: soap.query(TextArea))
        objective = soap.query_one(f"#objective-{practice.ava}", TextArea)
        assert "3/4 correct (75%)" in objective.text and objective.read_only
        await pilot.press(*"Happy, asked for the drum")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not soap.unsaved)
        await pilot.press("escape")
        await on_screen(pilot, TodayScreen)
    with practice.open() as record:
        events = record.events.session_events(session_id)
        stored = record.events.session_events(session_id, include_undone=True)
        note = record.notes.note(session_id, practice.ava)
        session = record.sessions.session(session_id)
    trials = [e.payload for e in events if isinstance(e.payload, Trial)]
    assert [(t.correct, t.prompt_level) for t in trials] == [
        (True, "independent"),
        (True, "independent"),
        (False, "independent"),
        (True, "independent"),
    ]
    assert [e.kind for e in stored].count("tombstone") == 1
    counts = [e for e in events if isinstance(e.payload, Count)]
    assert len(counts) == 2 and {e.objective_id for e in counts} == {practice.ava_turns}
    assert {e.payload.label for e in counts} == {"Takes turns on the drum"}
    assert [e.payload.text for e in events if isinstance(e.payload, Note)] == ["more drum please"]
    assert [e.payload.value for e in events if isinstance(e.payload, Rating)] == [7.0]
    assert isinstance(events[0].payload, Intervention)
    assert session.ended_at is not None
    assert note.subjective == "Happy, asked for the drum" and "3/4 correct" in note.objective


async def test_group_taps_go_to_the_chosen_client(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_session(pilot, "space", "down", "space", "s")
        await pilot.press("plus", "g", "3")  # Ava correct; then Ben, correct at his third level
        await until(pilot, lambda: len(log_lines(app)) == 2)
        await pilot.click(f"#client-{practice.ava}")
        await pilot.press("minus")
        await until(pilot, lambda: len(log_lines(app)) == 3)
        session_id = screen.live.session.id
    with practice.open() as record:
        events = record.events.session_events(session_id)
    assert [(e.client_id, e.payload) for e in events] == [
        (practice.ava, Trial(True, "independent")),
        (practice.ben, Trial(True, "physical")),
        (practice.ava, Trial(False, "independent")),
    ]


async def test_a_waiting_latency_shows_on_its_button_across_a_client_change(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_session(pilot, "space", "down", "space", "s")
        button = screen.query_one(".-latency", Button)
        assert str(button.label) == "l Latency" and not button.has_class("-waiting")
        await pilot.press("l")  # the cue
        assert str(button.label) == "l Response ⏱" and button.has_class("-waiting")
        await pilot.press("g")  # the pad is rebuilt for Ben's hierarchy: the wait still shows
        button = screen.query_one(".-latency", Button)
        assert str(button.label) == "l Response ⏱" and button.has_class("-waiting")
        await pilot.press("l")  # the response
        await until(pilot, lambda: len(log_lines(app)) == 1)
        assert str(button.label) == "l Latency" and not button.has_class("-waiting")
        assert log_lines(app)[0].text.startswith("1· latency")  # on objective 1, as the log says


async def test_a_measure_is_typed_with_its_unit_and_moment(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_session(pilot)
        await pilot.press("M")
        await on_screen(pilot, MeasureDialog)
        dialog = app.screen  # no plan measure: what and unit are typed once, offered from then on
        for field, text in [("#label", "Shoulder flexion"), ("#unit", "degrees"), ("#value", "95")]:
            dialog.query_one(field, Input).focus()
            await pilot.press(*text)
        await pilot.press("enter")
        await on_screen(pilot, LiveSessionScreen)
        await until(pilot, lambda: any("flexion 95 degrees (before)" in line.text for line in log_lines(app)))
        await pilot.press("M")
        await on_screen(pilot, MeasureDialog)
        await pilot.press(*"110", "enter")  # the same measure again: after, this time
        await until(pilot, lambda: any("110 degrees (after)" in line.text for line in log_lines(app)))
        assert "Shoulder flexion 95 → 110 degrees" in str(screen.query_one("#objective").render())


async def test_an_abc_entry_is_three_lines_and_goes_into_the_note(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_session(pilot)
        await pilot.press("B")
        await on_screen(pilot, FieldsPrompt)
        await pilot.press(*"asked to put the drum away", "enter", *"threw the mallet", "enter")
        await pilot.press("enter")  # the consequence is still empty: it says so and waits
        assert "Fill in: Consequence" in str(app.screen.query_one("#problem", Static).render())
        await pilot.press(*"given the drum back", "enter")
        await on_screen(pilot, LiveSessionScreen)
        await until(pilot, lambda: any(line.text.startswith("1· ABC: asked") for line in log_lines(app)))
        session_id = screen.live.session.id
    with practice.open() as record:
        (abc,) = [e.payload for e in record.events.session_events(session_id) if isinstance(e.payload, Abc)]
        lines = record.progress.summary(session_id).for_objective(practice.ava_requests)
    assert abc == Abc("asked to put the drum away", "threw the mallet", "given the drum back")
    assert lines is not None and lines.abc == (abc,)


async def test_a_timed_walk_is_two_presses_and_the_steps_and_gives_velocity_cadence_stride(
    practice: Practice,
) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_session(pilot)
        await pilot.press("W")  # the start line
        assert screen.live.walk_timing
        await pilot.pause(0.2)
        await pilot.press("W")  # the finish line: the seconds are filled in, the steps asked
        await on_screen(pilot, WalkDialog)
        seconds = app.screen.query_one("#seconds", Input)
        assert float(seconds.value) >= 0.2 and app.screen.focused is app.screen.query_one("#steps", Input)
        await pilot.press("1", "enter")  # one step is no walk: it says so and waits
        assert isinstance(app.screen, WalkDialog)
        seconds.value = "12.5"  # corrected from the stopwatch
        await pilot.press("7", "enter")
        await on_screen(pilot, LiveSessionScreen)
        wanted = "1· walk 10 m in 12.5 s · 0.80 m/s · 81.6 steps/min · stride 1.18 m (baseline)"
        await until(pilot, lambda: any(line.text == wanted for line in log_lines(app)))
        assert "walk 0.80 m/s (n=1)" in str(screen.query_one("#objective").render())
        session_id = screen.live.session.id
    with practice.open() as record:
        (walk,) = [e.payload for e in record.events.session_events(session_id) if isinstance(e.payload, Walk)]
    assert walk == Walk(12.5, 10.0, 17, "baseline")


async def test_time_sampling_asks_each_interval_and_takes_one_touch_per_client(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_session(pilot, "space", "down", "space", "s")  # Ava and Ben
        await pilot.press("I")
        await on_screen(pilot, Pick)
        await pilot.press("1")  # momentary time sampling
        await on_screen(pilot, FieldsPrompt)
        await pilot.press(*"on task", "enter", "1", "enter")  # every second, for the test
        await on_screen(pilot, SampleDialog)
        await pilot.press("1", "enter")  # Ava on task at that moment; Ben, not marked, is not
        await until(
            pilot, lambda: len([e for e in screen.live.entries() if isinstance(e.event.payload, Sample)]) == 2
        )
        await on_screen(pilot, SampleDialog)  # the next interval asks again
        await pilot.press("escape")  # skipped: nothing logged for it
        await pilot.press("I")  # stop
        session_id = screen.live.session.id
    with practice.open() as record:
        samples = [
            (e.client_id, e.payload)
            for e in record.events.session_events(session_id)
            if isinstance(e.payload, Sample)
        ]
        ava = record.progress.summary(session_id).for_objective(practice.ava_requests)
    assert samples == [
        (practice.ava, Sample("on task", True, "momentary", 1.0)),
        (practice.ben, Sample("on task", False, "momentary", 1.0)),
    ]
    assert ava is not None and ava.samples["on task"].pct == 100.0


async def test_a_second_observer_records_a_running_session_blind(practice: Practice) -> None:
    with practice.open() as record:  # the therapist's session, running on another device
        therapist = LiveSession.start(record, [practice.ava])
        for correct in (True, True, False, True):
            therapist.commit(therapist.draft_trial(correct))
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("O")
        await on_screen(pilot, Pick)
        await pilot.press("1")
        await on_screen(pilot, LiveSessionScreen)
        screen = app.screen
        assert isinstance(screen, LiveSessionScreen) and "second observer (IOA, blind)" in screen.title
        assert log_lines(app) == []  # blind: the therapist's data are not shown
        await pilot.press("plus", "plus", "minus", "minus")
        await until(pilot, lambda: len(log_lines(app)) == 4)
        await pilot.press("e")
        await on_screen(pilot, Confirm)
        await pilot.press("enter")
        await on_screen(pilot, TodayScreen)
        assert any("computed when the observed session ends" in n.message for n in app._notifications)
    with practice.open() as record:
        record.sessions.end_session(therapist.session.id)
        (agreement,) = record.sessions.agreement(therapist.session.id)
    assert (agreement.measure, agreement.items, agreement.agreement_pct) == ("trial-by-trial", 4, 75.0)


async def test_no_response_and_refused_are_one_key_each(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_session(pilot)
        opening = len(log_lines(app))
        await pilot.press("plus", "0", "right_parenthesis")
        await until(pilot, lambda: len(log_lines(app)) == opening + 3)
        assert [line.text for line in log_lines(app)[:2]] == ["1· ✗ refused", "1· ✗ no response"]
        tally = str(screen.query_one("#objective").render())
        assert "1/3 correct · 33% independent · 1 NR · 1 refused" in tally


async def test_a_locked_disk_shows_pending_then_saves(practice: Practice) -> None:
    app = app_for(practice.data_dir, busy_timeout=0.1)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_session(pilot, "down", "s")  # Ben
        with write_lock(practice.data_dir / "companion.db"):
            await pilot.press("plus")
            await until(pilot, lambda: any(pending(line) for line in log_lines(app)))
            bar = screen.query_one("#pending-bar")
            assert bar.has_class("-visible") and "locked" in str(bar.render())
            assert "pending" in log_lines(app)[0].line(Style(), Style()).plain
        await until(pilot, lambda: not any(pending(line) for line in log_lines(app)), timeout=15)
        assert not screen.query_one("#pending-bar").has_class("-visible")
        session_id = screen.live.session.id
    with practice.open() as record:
        assert [e.payload for e in record.events.session_events(session_id)][1:] == [
            Trial(True, "independent")
        ]


async def test_an_unended_session_is_resumed_with_its_log(practice: Practice) -> None:
    async with app_for(practice.data_dir).run_test(size=SIZE) as pilot:
        await start_session(pilot)
        await pilot.press("plus", "minus")
        await until(pilot, lambda: len(log_lines(pilot.app)) == 3)
    # the app closed mid-session; a new one offers to resume it
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await until(pilot, lambda: "not ended" in str(app.screen.query_one("#open-session").render()))
        await pilot.press("s")
        await on_screen(pilot, Confirm)
        await pilot.press("enter")
        await on_screen(pilot, LiveSessionScreen)
        await until(pilot, lambda: len(log_lines(app)) == 3)
        assert "1/2 correct" in str(app.screen.query_one("#objective").render())


async def test_plans_browser_filters_and_starts_a_session_with_a_plan(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("p")
        plans = await on_screen(pilot, PlansScreen)
        everything = len(plans.shown)
        await pilot.press("slash", *"gait")
        await until(pilot, lambda: 0 < len(plans.shown) < everything)
        assert all("gait" in (p.title + p.summary + " ".join(p.steps)).lower() for p in plans.shown[:1])
        await pilot.press("escape", "enter")  # back to the list, then use the first plan
        await on_screen(pilot, Pick)
        chosen = plans.shown[0].id
        await pilot.press("2")  # Ben
        await on_screen(pilot, StartSession)
        await pilot.press("enter")
        screen = await on_screen(pilot, LiveSessionScreen)
        assert screen.live.plan is not None and screen.live.plan.id == chosen
        assert screen.live.client.id == practice.ben


async def test_switching_intervention_mid_session_is_logged(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_session(pilot)
        await pilot.press("i")
        await on_screen(pilot, PlansScreen)
        await pilot.press("slash", *"hello song", "escape", "enter")
        await on_screen(pilot, LiveSessionScreen)
        await until(
            pilot, lambda: screen.live.plan is not None and screen.live.plan.id == "hello-song-greeting"
        )
        session_id = screen.live.session.id
    with Record.open(practice.data_dir, backup_every=None) as record:
        switches = [
            e.payload for e in record.events.session_events(session_id) if isinstance(e.payload, Intervention)
        ]
    assert switches[-1] == Intervention("hello-song-greeting") and len(switches) == 2


async def test_review_shows_sessions_progress_and_writes_a_report(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        review = await open_review(pilot, sessions=4)
        await until(pilot, lambda: "Events (9)" in str(review.query_one("#session-detail").render()))
        await pilot.press("2")
        await until(pilot, lambda: len(review.query(".chart-title")) == 2)
        assert len(review.query(ProgressChart)) == 1  # the objective without data has no empty chart
        await pilot.press("3", "w")
        exports = practice.data_dir / "exports"
        await until(pilot, lambda: exports.is_dir() and any(exports.glob("report-*.pdf")), timeout=30)
        report = next(exports.glob("report-*.pdf"))
        assert report.read_bytes().startswith(b"%PDF") and report.stat().st_mode & 0o777 == 0o600


async def test_an_objective_s_phase_is_set_from_review(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await open_review(pilot, sessions=4)
        await pilot.press("h")
        await on_screen(pilot, Pick)
        await pilot.press("1")  # Ava's first objective
        await until(pilot, lambda: isinstance(app.screen, Pick) and app.screen.dialog_title == "Which phase?")
        await pilot.press("3")  # probe
        await on_screen(pilot, ReviewScreen)
        with practice.open() as record:
            await until(
                pilot, lambda: [p.phase for p in record.caseload.phases(practice.ava_requests)] == ["probe"]
            )
            assert record.caseload.phases(practice.ava_requests)[0].since == NOW.date()


async def test_add_a_client_and_an_objective_from_today(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("a")
        await until(pilot, lambda: app.screen.query("#name"))
        await pilot.press(*"Dora", "tab", "tab", *"1990")
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.query_one("#clients", OptionList).option_count == 4)
        await pilot.press("o")
        await until(pilot, lambda: app.screen.query("#objective"))
        app.screen.query_one("#goal-text", Input).value = "Relax before sleep"
        app.screen.query_one("#objective", Input).value = "Rates anxiety 3 or lower after listening"
        await pilot.press("enter")
        await on_screen(pilot, TodayScreen)
        await until(pilot, lambda: "Rates anxiety" in str(app.screen.query_one("#objectives").render()))
    with practice.open() as record:
        dora = record.caseload.find_client("Dora")
        assert dora.birth_year == 1990
        assert [o.description for o in record.caseload.objectives(dora.id)] == [
            "Rates anxiety 3 or lower after listening"
        ]


async def test_help_and_palette_list_every_session_key(practice: Practice) -> None:
    from companion.app.bindings import declared_bindings

    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await start_session(pilot)
        screen = app.screen
        commands = {c.title for c in app.get_system_commands(screen)}
        described = {b.description for b in declared_bindings(screen)}
        assert described <= commands and {"Undo", "Note", "End", "Metronome"} <= described
        await pilot.press("question_mark")
        help_screen = await on_screen(pilot, HelpScreen)
        lines = {b.group.description if b.group else b.description for b in declared_bindings(screen)}
        assert lines | {"Help", "Command palette"} <= set(help_screen.listed)
        assert help_screen.listed["Undo"] == "u / ^z"
        await pilot.press("escape")
        await on_screen(pilot, LiveSessionScreen)


async def test_a_damaged_database_is_explained_and_can_be_restored(
    practice: Practice, tmp_path: Path
) -> None:
    with practice.open() as record:
        record.backups.backup_now()
    database = practice.data_dir / "companion.db"
    for sidecar in (database.with_name("companion.db-wal"), database.with_name("companion.db-shm")):
        sidecar.unlink(missing_ok=True)
    database.write_bytes(b"this is not a database" * 100)
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await on_screen(pilot, StartupProblem)
        assert "damaged" in str(app.screen.query_one("#message").render())
        await pilot.press("b")
        await on_screen(pilot, TodayScreen)
        await ready(pilot)
    assert any(p.name.startswith("companion.db.replaced-") for p in practice.data_dir.iterdir())


async def test_quitting_with_pending_entries_asks_first(practice: Practice) -> None:
    app = app_for(practice.data_dir, busy_timeout=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await start_session(pilot)
        with write_lock(practice.data_dir / "companion.db"):
            await pilot.press("plus")
            await until(pilot, lambda: any(pending(line) for line in log_lines(app)))
            await pilot.press("ctrl+q")
            await on_screen(pilot, Confirm)
            await pilot.press("escape")  # keep them
            await on_screen(pilot, LiveSessionScreen)
        assert app.is_running


async def test_quitting_anyway_keeps_pending_entries_for_the_next_start(
    practice: Practice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    app = app_for(practice.data_dir, busy_timeout=0.05)
    with ExitStack() as held:
        async with app.run_test(size=SIZE) as pilot:
            screen = await start_session(pilot)
            session_id = screen.live.session.id
            held.enter_context(write_lock(practice.data_dir / "companion.db"))
            await pilot.press("plus")
            await until(pilot, lambda: any(pending(line) for line in log_lines(app)))
            await pilot.press("ctrl+q")
            await on_screen(pilot, Confirm)
            assert "rescue file" in str(app.screen.query_one("#accept", Button).label)
            await pilot.press("y")
    again = app_for(practice.data_dir)
    async with again.run_test(size=SIZE) as pilot:
        await ready(pilot)
        shown = [n.message for n in again._notifications]
        assert any("added to the record from its rescue file" in message for message in shown)
    with practice.open() as record:
        assert [e.payload for e in record.events.session_events(session_id)][1:] == [
            Trial(True, "independent")
        ]


async def test_a_past_note_is_written_from_review_and_closing_returns_to_review(practice: Practice) -> None:
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        review = await open_review(pilot, sessions=4)
        newest = review.sessions[0].id
        await pilot.press("n")
        await on_screen(pilot, SoapScreen)
        soap = app.screen
        await until(pilot, lambda: soap.query(TextArea))
        await pilot.press(*"Calm, engaged")
        await pilot.press("escape")  # closing saves first, then returns where it came from
        await on_screen(pilot, ReviewScreen)
    with practice.open() as record:
        note = record.notes.note(newest, practice.ava)
    assert note.subjective == "Calm, engaged" and "7/8 independent trials (88%)" in note.objective


async def test_review_opens_on_the_client_highlighted_and_today_marks_draft_notes(practice: Practice) -> None:
    with practice.open() as record:
        last = record.sessions.sessions(practice.ava)[-1]
        draft = record.notes.note(last.id, practice.ava)
        record.notes.save_note(replace(draft, subjective="Arrived tired."))  # saved, not signed
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        today = app.screen
        assert isinstance(today, TodayScreen)
        recent = str(today.query_one("#recent", Static).render())
        assert f"{last.date.isoformat()} · " in recent and "note DRAFT" in recent
        assert "Attendance: 4 attended, of 4 scheduled." in recent
        await pilot.press("down")  # Ben
        await until(
            pilot,
            lambda: today.highlighted_client is not None and today.highlighted_client.id == practice.ben,
        )
        await pilot.press("r")
        await on_screen(pilot, ReviewScreen)
        assert isinstance(app.screen, ReviewScreen) and app.screen.client_id == practice.ben


@pytest.mark.parametrize("name", ["Al [/]", "[@click=app.quit]Quit[/]", "[b]Bo[/b] [red]"])
async def test_names_with_markup_show_as_typed_on_every_screen(tmp_path: Path, name: str) -> None:
    """Found by the audit: "Sam [/]" crashed Review (MarkupError) and [@click=app.quit] was run."""
    practice = make_practice(tmp_path / "data")
    with practice.open() as record:
        record.caseload.update_client(practice.ava, display_name=name, population=f"notes {name}")
    app = app_for(practice.data_dir)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        today = app.screen
        assert isinstance(today, TodayScreen)
        assert name in str(today.query_one("#client-heading", Static).render())
        await pilot.press("r")
        await on_screen(pilot, ReviewScreen)
        await settled(pilot)
        await pilot.press("escape")
        await on_screen(pilot, TodayScreen)
        screen = await start_session(pilot)
        assert name in screen.title or name in str(screen.sub_title)
        assert app.is_running  # nothing typed in a name was run as an action
