"""Inter-observer agreement: a second observer's blind session against the primary one, in real SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from companion.live.session_controller import LiveSession
from companion.record import Count, EventDraft, MasteryCriterion, Payload, Record, Sample, Trial
from companion.record.agreement import INTERVAL_BY_INTERVAL, TOTAL_COUNT, TRIAL_BY_TRIAL, Agreement

START = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def log(record: Record, session_id: int, objective_id: int, payloads: list[Payload]) -> None:
    record.events.log_many(
        session_id,
        [
            EventDraft(p, objective_id=objective_id, wall_time=START + timedelta(seconds=10 * i))
            for i, p in enumerate(payloads)
        ],
    )


def test_agreement_is_computed_trial_by_trial_by_total_count_and_by_interval(record: Record) -> None:
    ava = record.caseload.add_client("Ava")
    goal = record.caseload.add_goal(ava.id, "communication", "requests")
    requests = record.caseload.add_objective(
        goal.id, "2-word requests", MasteryCriterion("percent_independent", 80, 1)
    )
    turns = record.caseload.add_objective(goal.id, "turns", MasteryCriterion("count", 5, 1))
    primary = record.sessions.start_session([ava.id], started_at=START)
    second = record.sessions.start_session([ava.id], started_at=START, second_observer_of=primary.id)
    trials = [
        Trial(True, "independent"),
        Trial(False, "independent"),
        Trial(True, "verbal"),
        Trial(True, "independent"),
    ]
    log(record, primary.id, requests.id, [*trials, Sample("on task", True), Sample("on task", False)])
    seen = [Trial(True, "independent"), Trial(False, "independent"), Trial(True, "gestural")]  # one missed
    log(record, second.id, requests.id, [*seen, Sample("on task", True), Sample("on task", True)])
    log(record, primary.id, turns.id, [Count("turn")] * 6)
    log(record, second.id, turns.id, [Count("turn")] * 5)
    record.sessions.end_session(primary.id, ended_at=START + timedelta(minutes=30))
    assert record.sessions.agreement(primary.id) == []  # the second observer has not ended: nothing yet
    record.sessions.end_session(second.id, ended_at=START + timedelta(minutes=30))
    found = {(a.objective_id, a.measure): a for a in record.sessions.agreement(primary.id)}
    assert found[(requests.id, TRIAL_BY_TRIAL)] == Agreement(requests.id, TRIAL_BY_TRIAL, 50.0, 4)  # 2 of 4
    assert found[(requests.id, INTERVAL_BY_INTERVAL)] == Agreement(requests.id, INTERVAL_BY_INTERVAL, 50.0, 2)
    assert found[(turns.id, TOTAL_COUNT)].agreement_pct == pytest.approx(100 * 5 / 6)
    assert found[(turns.id, TOTAL_COUNT)].describe() == "IOA total count 83% (6 counted)"
    # The second observer's data never enter the record's figures.
    assert [s.id for s in record.sessions.sessions(ava.id)] == [primary.id]
    (point,) = record.progress.objective_progress(turns.id).points
    assert point.value == 6
    assert [s.id for s in record.sessions.second_observers(primary.id)] == [second.id]


def test_a_second_observer_observes_a_primary_session_s_own_clients(record: Record) -> None:
    ava, ben = record.caseload.add_client("Ava"), record.caseload.add_client("Ben")
    primary = record.sessions.start_session([ava.id], started_at=START)
    with pytest.raises(ValueError, match="own clients"):
        record.sessions.start_session([ben.id], second_observer_of=primary.id)
    second = record.sessions.start_session([ava.id], second_observer_of=primary.id)
    with pytest.raises(ValueError, match="primary session"):
        record.sessions.start_session([ava.id], second_observer_of=second.id)


def test_a_live_second_observer_session_stores_agreement_when_it_ends_last(tmp_path: Path) -> None:
    with Record.open(tmp_path, backup_every=None) as record:
        ava = record.caseload.add_client("Ava")
        goal = record.caseload.add_goal(ava.id, "communication", "requests")
        record.caseload.add_objective(goal.id, "2-word requests")
        therapist = LiveSession.start(record, [ava.id])
        observer = LiveSession.start(record, [ava.id], second_observer_of=therapist.session.id)
        for correct in (True, True, False):
            therapist.commit(therapist.draft_trial(correct))
        for correct in (True, False, False):
            observer.commit(observer.draft_trial(correct))
        therapist.end()
        observer.end()
        (agreement,) = record.sessions.agreement(therapist.session.id)
    assert (agreement.measure, agreement.items) == (TRIAL_BY_TRIAL, 3)
    assert agreement.agreement_pct == pytest.approx(200 / 3)
