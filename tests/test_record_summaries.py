"""Session summaries and progress across sessions, computed from events stored in a real database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from companion.record import (
    Cadence,
    Count,
    DurationStart,
    DurationStop,
    EventDraft,
    Latency,
    MasteryCriterion,
    Rating,
    Record,
    Sync,
    Tempo,
    Trial,
)
from companion.record.stats import least_squares_slope

START = datetime(2024, 9, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Record]:
    with Record.open(tmp_path, backup_every=None) as rec:
        yield rec


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def test_session_summary_figures(record: Record) -> None:
    client = record.add_client("Ava")
    goal = record.add_goal(client.id, "motor", "bilateral coordination")
    drum = record.add_objective(goal.id, "tap the drum on the beat")
    session = record.start_session([client.id], "clinic", started_at=START)
    trials = [(True, "independent")] * 8 + [(True, "verbal"), (False, "model")]
    drafts = [EventDraft(Tempo(80, "4/4"), wall_time=at(1)), EventDraft(Tempo(84, "3/4"), wall_time=at(2))]
    drafts += [
        EventDraft(Trial(correct, level), objective_id=drum.id, wall_time=at(3 + i))
        for i, (correct, level) in enumerate(trials)
    ]
    drafts += [
        EventDraft(Count("initiation"), wall_time=at(14)),
        EventDraft(Count("initiation"), wall_time=at(15)),
        EventDraft(Count("initiation", -1), wall_time=at(15.5)),
        EventDraft(DurationStart("on task"), wall_time=at(16)),
        EventDraft(DurationStop("on task"), wall_time=at(19)),
        EventDraft(DurationStart("on task"), wall_time=at(25)),  # never stopped: counted to the end
        EventDraft(Latency(2.0), wall_time=at(20)),
        EventDraft(Latency(4.0), wall_time=at(21)),
        EventDraft(Rating("anxiety", 7, phase="before"), wall_time=at(0.5)),
        EventDraft(Rating("anxiety", 3, phase="after"), wall_time=at(29)),
        EventDraft(Cadence(92, 0.08, 20), wall_time=at(22)),
        EventDraft(Cadence(101, 0.05, 24), wall_time=at(24)),
        EventDraft(Sync(-20, 30, 0.9, 80, 40, 2, 1, 84), objective_id=drum.id, wall_time=at(13)),
        EventDraft(Sync(-10, 20, 0.95, 90, 60, 0, 0, 84), objective_id=drum.id, wall_time=at(13.5)),
    ]
    record.log_many(session.id, drafts)
    record.end_session(session.id, ended_at=at(30))
    summary = record.summary(session.id)
    assert summary.minutes == 30
    assert summary.tempo is not None and (summary.tempo.minimum, summary.tempo.maximum) == (80, 84)

    objective = summary.for_objective(drum.id)
    assert objective is not None and objective.trials is not None
    assert (objective.trials.n, objective.trials.pct_correct, objective.trials.pct_independent) == (
        10,
        90,
        80,
    )
    assert objective.trials.by_level == {"independent": (8, 0), "verbal": (1, 0), "model": (0, 1)}
    assert objective.tempo is not None and objective.tempo.describe() == "84 bpm"
    assert objective.sync is not None
    assert objective.sync.pct_within == pytest.approx((80 * 40 + 90 * 60) / 100)
    assert objective.sync.mean_asynchrony_ms == pytest.approx((-20 * 40 - 10 * 60) / 100)
    assert (objective.sync.hits, objective.sync.missed, objective.sync.extra) == (100, 2, 1)

    general = next(g for g in summary.groups if g.objective_id is None)
    assert general.counts["initiation"].total == 1
    assert general.counts["initiation"].per_minute == pytest.approx(1 / 30)
    on_task = general.durations["on task"]
    assert (on_task.total_seconds, on_task.episodes, on_task.open_episodes) == (180 + 300, 2, 1)
    assert general.latency is not None and (general.latency.mean, general.latency.maximum) == (3.0, 4.0)
    anxiety = general.ratings["anxiety"]
    assert (anxiety.before, anxiety.after, anxiety.change) == (7, 3, -4)
    assert general.cadence is not None
    assert (general.cadence.first, general.cadence.last, general.cadence.measurements) == (92, 101, 2)


def log_trials(record: Record, client_id: int, objective_id: int, day: datetime, independent: int) -> None:
    session = record.start_session([client_id], started_at=day)
    drafts = [
        EventDraft(Trial(True, "independent" if i < independent else "verbal"), objective_id=objective_id)
        for i in range(10)
    ]
    record.log_many(
        session.id, [EventDraft(d.payload, objective_id=d.objective_id, wall_time=day) for d in drafts]
    )
    record.end_session(session.id, ended_at=day + timedelta(minutes=45))


def test_progress_trend_and_mastery(record: Record) -> None:
    client = record.add_client("Ava")
    goal = record.add_goal(client.id, "communication", "requests")
    objective = record.add_objective(
        goal.id, "2-word request", MasteryCriterion("percent_independent", 80, 3)
    )
    other = record.add_objective(goal.id, "greets peers", MasteryCriterion("count", 5, 2))
    weekly = [4, 5, 8, 6, 8, 9, 8]  # independent trials out of 10, one session a week
    for week, independent in enumerate(weekly):
        log_trials(record, client.id, objective.id, START + timedelta(weeks=week), independent)
    progress = record.objective_progress(objective.id)
    assert [p.value for p in progress.points] == [10.0 * n for n in weekly]
    assert all(p.sample == 10 for p in progress.points)
    expected = least_squares_slope(list(range(7)), [10.0 * n for n in weekly])
    assert progress.slope_per_week == pytest.approx(expected)
    assert progress.slope_per_week is not None and progress.slope_per_week > 0
    assert progress.mastered and progress.mastered_on == (START + timedelta(weeks=6)).date()
    assert progress.current_run == 3 and (progress.baseline, progress.latest) == (40, 80)
    window = record.objective_progress(objective.id, end=(START + timedelta(weeks=4)).date())
    assert len(window.points) == 5 and not window.mastered
    by_objective = {p.objective.id: p for p in record.client_progress(client.id)}
    assert by_objective[objective.id] == progress
    assert by_objective[other.id].points == () and by_objective[other.id].slope_per_week is None


def test_slope_needs_two_distinct_dates() -> None:
    assert least_squares_slope([1.0], [5.0]) is None
    assert least_squares_slope([2.0, 2.0], [1.0, 3.0]) is None
    assert least_squares_slope([0.0, 1.0, 2.0], [1.0, 3.0, 5.0]) == pytest.approx(2.0)
