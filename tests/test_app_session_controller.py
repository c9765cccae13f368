"""The live session's rules, against a real SQLite record: taps, tallies, undo, pending, tempo, end."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from support.practice import Practice, make_practice, write_lock

from companion.live.log_lines import describe
from companion.live.session_controller import LiveSession
from companion.live.tap_writer import TapWriter
from companion.record import (
    Count,
    DurationStart,
    DurationStop,
    Event,
    EventDraft,
    MasteryCriterion,
    Measure,
    ObservationStop,
    Record,
    Trial,
)
from interventions import DataKind, Library


def kinds(record: Record, session_id: int) -> list[str]:
    return [e.kind for e in record.events.session_events(session_id)]


def test_taps_go_to_the_selected_objective_and_are_durable(practice: Practice) -> None:
    with practice.open() as record:
        live = LiveSession.start(record, [practice.ava], "in-home")
        assert live.objective is not None and live.objective.id == practice.ava_requests
        for correct, level in [(True, 0), (True, 0), (False, 0), (True, 2)]:
            update = live.commit(live.draft_trial(correct, level))
            assert update.problem is None and update.entries[-1].saved
        live.cycle_objective()
        live.commit(live.draft_count())
        live.commit(live.draft_note("more drum please"))
    with practice.open() as reopened:  # a fresh connection sees every event: they were durable
        events = reopened.events.session_events(live.session.id)
    trials = [e for e in events if isinstance(e.payload, Trial)]
    assert {e.objective_id for e in trials} == {practice.ava_requests}
    assert [e.payload.prompt_level for e in trials] == ["independent"] * 3 + ["verbal"]
    counts = [e for e in events if isinstance(e.payload, Count)]
    assert counts[0].objective_id == practice.ava_turns and counts[0].client_id == practice.ava


def test_tallies_show_correct_and_independent_live(practice: Practice) -> None:
    with practice.open() as record:
        live = LiveSession.start(record, [practice.ava])
        for correct, level in [(True, 0)] * 7 + [(True, 1), (False, 0)]:
            live.commit(live.draft_trial(correct, level))
        tally = live.tallies()[0]
        assert tally.summary is not None and tally.summary.trials is not None
        assert (tally.summary.trials.correct, tally.summary.trials.n) == (8, 9)
        assert tally.headline().startswith("8/9 correct · 78% independent")
        assert live.tallies()[1].headline() == "no data yet"


def test_a_logged_cadence_counts_in_its_objective_s_tally(practice: Practice) -> None:
    with practice.open() as record:
        live = LiveSession.start(record, [practice.ava])
        live.cycle_objective()
        assert live.tallies()[1].headline() == "no data yet"
        live.commit(live.draft_cadence(96.4, 0.031, 12))
        assert live.tallies()[1].headline() == "cadence 96.4 steps/min (n=1)"


def test_undo_cancels_the_last_tap_not_the_tempo_marker(practice: Practice) -> None:
    with practice.open() as record:
        live = LiveSession.start(record, [practice.ava])
        first = live.commit(live.draft_trial(True)).entries[-1]
        second = live.commit(live.draft_trial(False)).entries[-1]
        live.note_tempo(84, "4/4")
        live.settle_tempo()
        undone = live.undo_last().entries[0]
        assert undone.id == second.id and undone.undone
        assert live.undo_last().entries[0].id == first.id
        assert live.undo_last().entries == ()  # nothing left to undo: the tempo marker stays
        assert kinds(record, live.session.id) == ["tempo"]
        stored = record.events.session_events(live.session.id, include_undone=True)
        assert [e.kind for e in stored].count("tombstone") == 2


def test_a_tempo_marker_precedes_the_tap_it_applies_to(practice: Practice) -> None:
    with practice.open() as record:
        live = LiveSession.start(record, [practice.ava])
        live.note_tempo(80, "4/4")
        live.note_tempo(84, "4/4")  # only the tempo in force when the tap happens is logged
        live.commit(live.draft_trial(True))
        live.note_tempo(84, "4/4")  # unchanged: nothing due
        assert not live.tempo_due
        live.commit(live.draft_trial(True))
        events = record.events.session_events(live.session.id)
        assert [describe(e) for e in events][:2] == ["♩ 84 bpm 4/4", "✓ correct, independent"]
        assert kinds(record, live.session.id) == ["tempo", "trial", "trial"]
        summary = record.progress.summary(live.session.id).for_objective(practice.ava_requests)
        assert summary is not None and summary.tempo is not None and summary.tempo.describe() == "84 bpm"


def test_switching_plan_is_logged_and_brings_its_taps(practice: Practice, library: Library) -> None:
    with practice.open() as record:
        live = LiveSession.start(record, [practice.ava], plan_id="timp-drum-reach", library=library)
        assert live.plan is not None and live.plan.id == "timp-drum-reach"
        assert live.label_choices(DataKind.COUNT)[0] == "Full reaches"  # the plan's taps are offered
        live.use_label(DataKind.COUNT, "Full reaches")
        count = live.commit(live.draft_count()).entries[-1]
        assert isinstance(count.event.payload, Count) and count.event.payload.label == "Full reaches"
        assert count.event.plan_id == "timp-drum-reach"
        live.note_tempo(72, "4/4")
        live.settle_tempo()
        live.switch_plan("hello-song-greeting")
        assert live.tempo_due  # the new intervention logs the tempo again before its first tap
        live.commit(live.draft_note("sang along"))
        assert kinds(record, live.session.id) == [
            "intervention",
            "count",
            "tempo",
            "intervention",
            "tempo",
            "note",
        ]
        with pytest.raises(ValueError, match="no plan"):
            live.switch_plan("no-such-plan")


def test_a_locked_disk_keeps_taps_pending_and_retry_saves_them(tmp_path: Path) -> None:
    practice = make_practice(tmp_path, history=False)
    record = Record.open(practice.data_dir, backup_every=None, busy_timeout=0.05)
    live = LiveSession.start(record, [practice.ava])
    saved = live.commit(live.draft_trial(True)).entries[-1]
    with write_lock(record.path):
        update = live.commit(live.draft_trial(False))
        pending = update.entries[-1]
        assert not pending.saved and update.problem is not None and "locked" in update.problem
        undo = live.undo_last()  # undoing a pending tap works too; the tombstone waits with it
        assert undo.entries[0].id == pending.id and undo.entries[0].undone and not undo.entries[0].saved
        assert live.retry().problem is not None
    retried = live.retry()
    assert {e.id for e in retried.entries} == {pending.id} and all(e.saved for e in retried.entries)
    record.close()
    with practice.open() as reopened:
        events = reopened.events.session_events(live.session.id)
    assert [e.id for e in events] == [saved.id]  # the pending tap reached the disk, then its undo


def test_durations_toggle_and_end_stops_running_timers(practice: Practice) -> None:
    with practice.open() as record:
        live = LiveSession.start(record, [practice.ava])
        live.cycle_objective()
        live.commit(live.draft_duration_toggle())
        assert live.timing()
        assert "(timing)" in live.tallies()[1].headline()
        live.commit(live.draft_duration_toggle())
        live.commit(live.draft_duration_toggle())
        live.end()
        payloads = [e.payload for e in record.events.session_events(live.session.id)]
        assert [type(p) for p in payloads] == [DurationStart, DurationStop, DurationStart, DurationStop]
        assert live.ended and record.sessions.session(live.session.id).ended_at is not None


def test_undoing_a_stop_lets_the_timer_run_on(practice: Practice) -> None:
    with practice.open() as record:
        live = LiveSession.start(record, [practice.ava])
        live.commit(live.draft_duration_toggle())
        live.commit(live.draft_duration_toggle())
        assert not live.timing()
        live.undo_last()
        assert list(live.timing()) == [(practice.ava, practice.ava_requests, "time on task")]


def test_group_taps_go_to_the_selected_client(practice: Practice) -> None:
    with practice.open() as record:
        live = LiveSession.start(record, [practice.ava, practice.ben, practice.cleo], "clinic")
        assert live.is_group and live.client.id == practice.ava
        live.commit(live.draft_trial(True))
        ben = live.next_client()
        assert ben.id == practice.ben and live.prompt_levels == ("independent", "verbal", "physical")
        live.commit(live.draft_trial(True, 2))
        cleo = live.next_client()
        assert live.objective is None  # no objectives: data stay "general" for Cleo
        live.commit(live.draft_rating("engagement", 7, "during"))
        live.note_tempo(96, "4/4")
        live.settle_tempo()
        events = record.events.session_events(live.session.id)
        assert [(e.client_id, e.kind) for e in events] == [
            (practice.ava, "trial"),
            (practice.ben, "trial"),
            (cleo.id, "rating"),
            (None, "tempo"),
        ]
        assert live.tallies(cleo.id)[0].label == "General"
        live.select_client(practice.ben)
        with pytest.raises(IndexError):
            live.draft_trial(True, 3)  # Ben's hierarchy has three levels


def test_latency_is_measured_from_cue_to_response(practice: Practice) -> None:
    with practice.open() as record:
        live = LiveSession.start(record, [practice.ava])
        with pytest.raises(ValueError, match="no cue"):
            live.draft_latency()
        live.mark_cue()
        threading.Event().wait(0.05)
        draft = live.draft_latency()
        assert 0.04 <= draft.payload.seconds < 5  # type: ignore[union-attr]
        assert not live.cue_marked


def test_resume_rebuilds_the_log_timers_and_plan(practice: Practice, library: Library) -> None:
    with practice.open() as record:
        live = LiveSession.start(record, [practice.ava], plan_id="timp-drum-reach", library=library)
        live.commit(live.draft_trial(True))
        live.commit(live.draft_trial(False))
        live.undo_last()
        live.cycle_objective()
        live.commit(live.draft_duration_toggle())
        session_id = live.session.id
    with practice.open() as record:
        again = LiveSession.resume(record, session_id, library)
        entries = again.entries()
        assert [e.event.kind for e in entries] == ["intervention", "trial", "trial", "duration_start"]
        assert [e.undone for e in entries] == [False, False, True, False]
        assert again.plan is not None and again.plan.id == "timp-drum-reach"
        assert list(again.timing()) == [(practice.ava, practice.ava_turns, "time on task")]


def test_labels_used_before_are_offered_again(practice: Practice) -> None:
    with practice.open() as record:
        past = LiveSession.start(record, [practice.ava])
        past.cycle_objective()
        past.commit(past.draft_count())  # "count" by default
        record.events.log(
            past.session.id, EventDraft(Count("turn initiation"), objective_id=practice.ava_turns)
        )
        past.commit(past.draft_rating("anxiety", 3, "before"))
        past.end()
        live = LiveSession.start(record, [practice.ava])
        live.cycle_objective()
        assert live.draft_count().payload == Count("turn initiation")
        assert [c.label for c in live.rating_choices()] == ["anxiety"]


def test_the_writer_runs_work_in_order_and_reports_errors() -> None:
    writer = TapWriter()
    seen: list[object] = []
    for n in range(20):
        writer.submit(lambda n=n: n, lambda result, error: seen.append(result))
    writer.submit(lambda: 1 / 0, lambda result, error: seen.append(type(error).__name__))
    writer.drain(5)
    writer.close()
    assert seen == [*range(20), "ZeroDivisionError"]


def test_describe_reads_like_a_data_sheet(practice: Practice) -> None:
    with practice.open() as record:
        live = LiveSession.start(record, [practice.ben])
        hierarchy = live.prompt_levels
        texts = [
            describe(live.commit(live.draft_trial(True, 1)).entries[-1].event, hierarchy),
            describe(live.commit(live.draft_rating("pain", 4, "after")).entries[-1].event, hierarchy),
            describe(live.commit(live.draft_note("walked to the door")).entries[-1].event, hierarchy),
        ]
        assert texts == ["✓ correct, verbal prompt", "pain 4/10 (after)", "“walked to the door”"]
        assert live.describe(live.entries()[0]) == "1· " + texts[0]  # the log names its objective


MIT_LEVELS = ("independent", "repetition after model", "partial unison", "unison")


def test_a_plan_s_own_hierarchy_reaches_the_pad_and_stays_with_the_objective(
    practice: Practice, library: Library
) -> None:
    with practice.open() as record:
        live = LiveSession.start(record, [practice.ava], plan_id="mit-phrase-production", library=library)
        assert live.objective is not None and live.objective.id == practice.ava_requests
        assert live.prompt_levels == MIT_LEVELS  # the plan's, not Ava's ABA hierarchy
        for correct, level in [(True, 0), (True, 2), (False, 3), (True, 1)]:
            update = live.commit(live.draft_trial(correct, level))
            assert update.problem is None and update.entries[-1].saved
        kept = record.caseload.objective(practice.ava_requests).prompt_levels
        assert kept == MIT_LEVELS  # the objective's own from its first trial
        assert [line.split(", ", 1)[1] for line in map(live.describe, live.entries()[1:])] == [
            "independent",
            "partial unison prompt",
            "unison prompt",
            "repetition after model prompt",
        ]
        tally = live.tallies()[0]
        assert tally.summary is not None and tally.summary.trials is not None
        assert list(tally.summary.trials.by_level) == list(MIT_LEVELS)  # in the objective's order
        live.switch_plan("hello-song-greeting")
        assert live.prompt_levels == MIT_LEVELS  # the objective's now, whatever the plan
        live.cycle_objective()
        assert live.prompt_levels == record.caseload.prompt_hierarchy(
            practice.ava
        )  # another objective: Ava's
        live.end()
        summary = record.progress.summary(live.session.id)
    (group,) = [g for g in summary.groups if g.objective_id == practice.ava_requests]
    assert group.trials is not None and (group.trials.n, group.trials.independent) == (4, 1)
    assert list(group.trials.by_level) == list(MIT_LEVELS)
    gestural = EventDraft(Trial(True, "gestural"), objective_id=practice.ava_requests)
    with practice.open() as record, pytest.raises(ValueError, match="'gestural' is not one of independent"):
        record.events.log(live.session.id, gestural)


def test_a_count_is_named_for_its_objective_not_the_plan_s_first_tap(
    practice: Practice, library: Library
) -> None:
    with practice.open() as record:
        live = LiveSession.start(record, [practice.ava], plan_id="sycom-turn-taking-drum", library=library)
        assert live.objective is not None and live.objective.id == practice.ava_requests
        assert live.known_label(DataKind.COUNT) is None
        assert live.label_choices(DataKind.COUNT) == ["Consecutive turns", "count"]  # offered, not assumed
        live.use_label(DataKind.COUNT, "2-word requests")
        live.commit(live.draft_count())
        live.cycle_objective()  # "Takes turns on the drum" is counted: its own name comes first
        assert live.label_choices(DataKind.COUNT) == ["Takes turns on the drum", "Consecutive turns", "count"]
        live.use_label(DataKind.COUNT, "Consecutive turns")
        live.commit(live.draft_count())
        live.cycle_objective()
        assert live.draft_count().payload == Count("2-word requests")  # kept for the objective
        live.end()
        later = LiveSession.start(record, [practice.ava], plan_id="sycom-turn-taking-drum", library=library)
        assert later.known_label(DataKind.COUNT) == "2-word requests"  # and in the next session
    counts = [(e.objective_id, e.payload) for e in record_events(practice, live.session.id, Count)]
    assert counts == [
        (practice.ava_requests, Count("2-word requests")),
        (practice.ava_turns, Count("Consecutive turns")),
    ]


def record_events(practice: Practice, session_id: int, kind: type) -> list[Event]:
    with practice.open() as record:
        return [e for e in record.events.session_events(session_id) if isinstance(e.payload, kind)]


def test_a_measure_is_logged_with_its_unit_and_named_in_the_tally(
    practice: Practice, library: Library
) -> None:
    with practice.open() as record:
        live = LiveSession.start(record, [practice.ava], plan_id="pse-arm-patterns", library=library)
        (choice,) = [c for c in live.measure_choices() if c.unit == "degrees"]
        assert choice.label == "Shoulder flexion (active ROM)" and choice.phases == ("before", "after")
        live.commit(live.draft_measure(choice.label, 95, choice.unit, "before"))
        assert live.rated_labels(Measure) == {choice.label}
        live.commit(live.draft_measure(choice.label, 110, choice.unit, "after"))
        assert live.tallies()[0].headline() == "Shoulder flexion (active ROM) 95 → 110 degrees"
        assert live.describe(live.entries()[-1]) == "1· Shoulder flexion (active ROM) 110 degrees (after)"
        live.end()
        again = LiveSession.start(record, [practice.ava])  # no plan: the objective's measure is offered
        assert [(c.label, c.unit) for c in again.measure_choices()] == [(choice.label, "degrees")]


def test_observing_an_objective_makes_its_counts_a_rate_and_survives_undo_and_resume(
    practice: Practice,
) -> None:
    with practice.open() as record:
        live = LiveSession.start(record, [practice.ava])
        live.cycle_objective()  # Takes turns: counted
        live.commit(live.draft_observation_toggle())
        live.use_label(DataKind.COUNT, "turn")
        for _ in range(3):
            live.commit(live.draft_count())
        headline = live.tallies()[1].headline()
        assert headline.startswith("observed ") and "(observing)" in headline and "turn 3 (" in headline
        stop = live.commit(live.draft_observation_toggle()).entries[-1]
        assert "(observing)" not in live.tallies()[1].headline()
        live.undo_last()  # the stop was a slip: observing again from the start
        assert stop.event.payload == ObservationStop() and live.tallies()[1].observing
        resumed = LiveSession.resume(record, live.session.id)
        assert resumed.tallies()[1].observing
        with pytest.raises(ValueError, match="objective to observe"):
            LiveSession.start(record, [practice.cleo]).draft_observation_toggle()  # Cleo has none


def test_a_measured_objective_offers_itself_as_the_measure(practice: Practice) -> None:
    with practice.open() as record:
        goal = record.caseload.add_goal(practice.ben, "gross motor", "Walk faster")
        walk = record.caseload.add_objective(
            goal.id, "10 m walk time", MasteryCriterion("measure_last", 12, 3, "at_most")
        )
        live = LiveSession.start(record, [practice.ben])
        while live.objective is None or live.objective.id != walk.id:
            live.cycle_objective()
        assert [(c.label, c.unit) for c in live.measure_choices()] == [("10 m walk time", "")]
        live.commit(live.draft_measure("10 m walk time", 14.2, "s", "before"))
        assert [(c.label, c.unit) for c in live.measure_choices()] == [("10 m walk time", "s")]
