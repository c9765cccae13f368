"""Session summaries and progress across sessions, computed from events stored in a real database."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.record_times import START, at

from companion.documents.charts import progress_chart
from companion.record import (
    Cadence,
    Count,
    Duration,
    DurationStart,
    DurationStop,
    EventDraft,
    GroupSummary,
    Latency,
    MasteryCriterion,
    Measure,
    ObservationStart,
    ObservationStop,
    Payload,
    Rating,
    Record,
    Sample,
    Sync,
    Tempo,
    Trial,
    Walk,
)
from companion.record.model import METRICS, Metric
from companion.record.stats import least_squares_slope
from companion.record.summary_stats import CountStats


def test_session_summary_figures(record: Record) -> None:
    client = record.caseload.add_client("Ava")
    goal = record.caseload.add_goal(client.id, "gross motor", "bilateral coordination")
    drum = record.caseload.add_objective(goal.id, "tap the drum on the beat")
    session = record.sessions.start_session([client.id], "clinic", started_at=START)
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
    record.events.log_many(session.id, drafts)
    record.sessions.end_session(session.id, ended_at=at(30))
    summary = record.progress.summary(session.id)
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
    # 40 hits, 1 extra, 2 missed = 41 beats with 39 matched hits; then 60 beats, 60 matched
    assert objective.sync.beats == 41 + 60
    assert objective.sync.pct_within == pytest.approx((80 * 41 + 90 * 60) / 101)
    assert objective.sync.mean_asynchrony_ms == pytest.approx((-20 * 39 - 10 * 60) / 99)
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
    session = record.sessions.start_session([client_id], started_at=day)
    drafts = [
        EventDraft(Trial(True, "independent" if i < independent else "verbal"), objective_id=objective_id)
        for i in range(10)
    ]
    record.events.log_many(
        session.id, [EventDraft(d.payload, objective_id=d.objective_id, wall_time=day) for d in drafts]
    )
    record.sessions.end_session(session.id, ended_at=day + timedelta(minutes=45))


def test_progress_trend_and_mastery(record: Record) -> None:
    client = record.caseload.add_client("Ava")
    goal = record.caseload.add_goal(client.id, "communication", "requests")
    objective = record.caseload.add_objective(
        goal.id, "2-word request", MasteryCriterion("percent_independent", 80, 3)
    )
    other = record.caseload.add_objective(goal.id, "greets peers", MasteryCriterion("count", 5, 2))
    weekly = [4, 5, 8, 6, 8, 9, 8]  # independent trials out of 10, one session a week
    for week, independent in enumerate(weekly):
        log_trials(record, client.id, objective.id, START + timedelta(weeks=week), independent)
    progress = record.progress.objective_progress(objective.id)
    assert [p.value for p in progress.points] == [10.0 * n for n in weekly]
    assert all(p.sample == 10 for p in progress.points)
    expected = least_squares_slope(list(range(7)), [10.0 * n for n in weekly])
    assert progress.slope_per_week == pytest.approx(expected)
    assert progress.slope_per_week is not None and progress.slope_per_week > 0
    assert progress.mastered and progress.mastered_on == (START + timedelta(weeks=6)).date()
    assert progress.current_run == 3 and (progress.baseline, progress.latest) == (40, 80)
    window = record.progress.objective_progress(objective.id, end=(START + timedelta(weeks=4)).date())
    assert len(window.points) == 5 and not window.mastered
    by_objective = {p.objective.id: p for p in record.progress.client_progress(client.id)}
    assert by_objective[objective.id] == progress
    assert by_objective[other.id].points == () and by_objective[other.id].slope_per_week is None


def test_slope_needs_two_distinct_dates() -> None:
    assert least_squares_slope([1.0], [5.0]) is None
    assert least_squares_slope([2.0, 2.0], [1.0, 3.0]) is None
    assert least_squares_slope([0.0, 1.0, 2.0], [1.0, 3.0, 5.0]) == pytest.approx(2.0)


def metric_from_summary(group: GroupSummary, metric: str) -> float:
    """The per-session value each metric should have, read off the session summary."""
    ratings = list(group.ratings.values())
    values: dict[str, Callable[[], float]] = {
        "percent_correct": lambda: group.trials.pct_correct or 0.0 if group.trials else 0.0,
        "percent_independent": lambda: group.trials.pct_independent or 0.0 if group.trials else 0.0,
        "count": lambda: float(group.count_total),
        "count_per_minute": lambda: group.count_total / group.minutes,
        "duration_seconds": lambda: sum(d.total_seconds for d in group.durations.values()),
        "latency_seconds": lambda: group.latency.mean if group.latency else 0.0,
        "rating_after": lambda: statistics.fmean(r.after for r in ratings if r.after is not None),
        "rating_change": lambda: statistics.fmean(r.change for r in ratings if r.change is not None),
        "cadence_spm": lambda: group.cadence.last if group.cadence else 0.0,
        "sync_pct_within": lambda: group.sync.pct_within if group.sync else 0.0,
        "measure_last": lambda: next(iter(group.measures.values())).last,
        "gait_velocity": lambda: group.walks.velocity if group.walks else 0.0,
        "interval_pct": lambda: (
            100.0
            * sum(s.occurred for s in group.samples.values())
            / sum(s.intervals for s in group.samples.values())
        ),
    }
    return values[metric]()


def random_payloads(rng: random.Random, metric: str) -> list[Payload]:
    n = rng.randint(3, 12)
    if metric.startswith("percent"):
        levels = ["independent", "gestural", "verbal", "model", "physical"]
        return [Trial(rng.random() < 0.6, rng.choice(levels)) for _ in range(n)]
    if metric.startswith("count"):
        return [Count(rng.choice(["a", "b"]), rng.choice([1, 1, 1, -1])) for _ in range(n)]
    if metric == "duration_seconds":
        return [DurationStart("x"), DurationStop("x"), Duration("y", rng.uniform(5, 90)), DurationStart("x")]
    if metric == "latency_seconds":
        return [Latency(rng.uniform(0.2, 9)) for _ in range(n)]
    if metric.startswith("rating"):
        return [
            Rating(
                rng.choice(["pain", "mood"]),
                rng.randint(0, 10),
                phase=rng.choice(["before", "after", "during"]),
            )
            for _ in range(n)
        ] + [Rating("pain", 5, phase="before"), Rating("pain", 2, phase="after")]
    if metric == "cadence_spm":
        return [Cadence(rng.uniform(70, 120), 0.05, 20) for _ in range(n)]
    if metric == "interval_pct":
        return [Sample("on task", rng.random() < 0.6, "momentary", 30) for _ in range(n)]
    if metric == "gait_velocity":
        return [Walk(rng.uniform(8, 30), 10.0, rng.choice([None, rng.randint(12, 30)])) for _ in range(n)]
    if metric == "measure_last":
        phases = ("before", "during", "after")
        return [
            Measure("shoulder flexion", rng.uniform(60, 150), "degrees", rng.choice(phases)) for _ in range(n)
        ]
    return [
        Sync(rng.uniform(-40, 10), 20, 0.9, rng.uniform(10, 99), rng.randint(0, 40), 1, 1, 84)
        for _ in range(n)
    ]


@pytest.mark.parametrize("metric", METRICS)
def test_progress_values_match_session_summaries(record: Record, metric: str) -> None:
    rng = random.Random(metric)
    client = record.caseload.add_client("Ava")
    goal = record.caseload.add_goal(client.id, "other", "g")
    objective = record.caseload.add_objective(goal.id, metric, MasteryCriterion(cast(Metric, metric), 1, 2))
    for week in range(4):
        start = START + timedelta(weeks=week)
        session = record.sessions.start_session([client.id], started_at=start)
        drafts = [
            EventDraft(p, objective_id=objective.id, wall_time=start + timedelta(seconds=30 * i))
            for i, p in enumerate(random_payloads(rng, metric))
        ]
        events = record.events.log_many(session.id, drafts)
        record.events.undo(events[1].id)
        record.events.log(session.id, EventDraft(Count("unrelated"), wall_time=start))  # not this objective
        record.sessions.end_session(session.id, ended_at=start + timedelta(minutes=40))
    progress = record.progress.objective_progress(objective.id)
    assert len(progress.points) == 4
    for point in progress.points:
        group = record.progress.summary(point.session_id).for_objective(objective.id)
        assert group is not None
        assert point.value == pytest.approx(metric_from_summary(group, metric)), point


Week = tuple[int, int]  # (trials, independent) in one session


def expected_mastery(weeks: list[Week], criterion: MasteryCriterion) -> int | None:
    """The week mastery is due, worked out here from the criterion's words: N judged sessions in a row at
    criterion, where only sessions with the minimum of trials are judged (the others are skipped)."""
    run = 0
    for week, (trials, independent) in enumerate(weeks):
        if trials < criterion.minimum:
            continue
        run = run + 1 if 100 * independent / trials >= criterion.threshold else 0
        if run >= criterion.consecutive_sessions:
            return week
    return None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    weeks=st.lists(
        st.integers(1, 14).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))), min_size=1, max_size=7
    ),
    minimum=st.sampled_from([None, 5, 10]),
)
def test_mastery_never_fires_below_the_minimum_opportunities(
    tmp_path_factory: pytest.TempPathFactory, weeks: list[Week], minimum: int | None
) -> None:
    criterion = MasteryCriterion("percent_independent", 80, 3, min_opportunities=minimum)
    with Record.open(tmp_path_factory.mktemp("record"), backup_every=None) as record:
        client = record.caseload.add_client("Ava")
        goal = record.caseload.add_goal(client.id, "communication", "requests")
        objective = record.caseload.add_objective(goal.id, "2-word request", criterion)
        for week, (trials, independent) in enumerate(weeks):
            day = START + timedelta(weeks=week)
            session = record.sessions.start_session([client.id], started_at=day)
            drafts = [
                EventDraft(
                    Trial(True, "independent" if i < independent else "verbal"),
                    objective_id=objective.id,
                    wall_time=day + timedelta(seconds=i),
                )
                for i in range(trials)
            ]
            record.events.log_many(session.id, drafts)
            record.sessions.end_session(session.id, ended_at=day + timedelta(minutes=45))
        progress = record.progress.objective_progress(objective.id)
    due = expected_mastery(weeks, criterion)
    assert progress.mastered_on == (None if due is None else (START + timedelta(weeks=due)).date())
    if progress.mastered_on is not None:  # every session of the qualifying run had enough trials
        judged = [
            p for p in progress.points if p.date <= progress.mastered_on and p.sample >= criterion.minimum
        ]
        assert len(judged) >= criterion.consecutive_sessions
        assert all(p.value >= 80 for p in judged[-criterion.consecutive_sessions :])
    if all(trials < criterion.minimum for trials, _ in weeks):
        assert not progress.mastered and progress.current_run == 0


def test_one_of_one_trials_is_not_evidence_of_mastery(record: Record) -> None:
    client = record.caseload.add_client("Ava")
    goal = record.caseload.add_goal(client.id, "communication", "requests")
    objective = record.caseload.add_objective(
        goal.id, "2-word request", MasteryCriterion("percent_independent", 80, 3)
    )
    for week in range(3):
        day = START + timedelta(weeks=week)
        session = record.sessions.start_session([client.id], started_at=day)
        record.events.log_many(
            session.id, [EventDraft(Trial(True, "independent"), objective_id=objective.id, wall_time=day)]
        )
        record.sessions.end_session(session.id, ended_at=day + timedelta(minutes=45))
    progress = record.progress.objective_progress(objective.id)
    assert [p.value for p in progress.points] == [100.0] * 3 and not progress.mastered
    assert "at least 10 trials each" in objective.criterion.describe()


def test_a_measure_keeps_before_and_after_apart_and_never_mixes_units(record: Record) -> None:
    client = record.caseload.add_client("Ben")
    goal = record.caseload.add_goal(client.id, "gross motor", "gait")
    walk = record.caseload.add_objective(
        goal.id, "10 m walk", MasteryCriterion("measure_last", 12, 2, "at_most")
    )
    session = record.sessions.start_session([client.id], started_at=START)
    measures = [
        Measure("10 m walk time", 19.5, "s", "before"),
        Measure("10 m walk time", 18.9, "s", "before"),  # re-measured: the last one stands
        Measure("10 m walk time", 15.2, "s", "after"),
        Measure("10 m walk time", 0.66, "m/s", "after"),  # another unit: kept apart
    ]
    record.events.log_many(
        session.id,
        [EventDraft(m, objective_id=walk.id, wall_time=at(i + 1)) for i, m in enumerate(measures)],
    )
    record.sessions.end_session(session.id, ended_at=at(45))
    group = record.progress.summary(session.id).for_objective(walk.id)
    assert group is not None and group.durations == {}  # a timed walk is not summed like time on task
    time = group.measures["10 m walk time"]
    assert (time.unit, time.before, time.after, time.last, time.n) == ("s", 18.9, 15.2, 15.2, 3)
    assert time.change == pytest.approx(-3.7)
    speed = group.measures["10 m walk time (m/s)"]
    assert (speed.unit, speed.last) == ("m/s", 0.66)
    with pytest.raises(ValueError, match="unit must not be empty"):
        Measure("range", 90, " ")


def test_baseline_sessions_never_count_toward_mastery_and_set_the_baseline(record: Record) -> None:
    client = record.caseload.add_client("Ava")
    goal = record.caseload.add_goal(client.id, "communication", "requests")
    objective = record.caseload.add_objective(
        goal.id, "2-word request", MasteryCriterion("percent_independent", 80, 3)
    )
    weekly = [9, 8, 9, 3, 8, 9, 8, 9]  # baseline happens to be high for three weeks: not evidence of teaching
    for week, independent in enumerate(weekly):
        log_trials(record, client.id, objective.id, START + timedelta(weeks=week), independent)
    record.caseload.set_phase(objective.id, "baseline", START.date())
    record.caseload.set_phase(objective.id, "intervention", (START + timedelta(weeks=3)).date())
    record.caseload.set_phase(objective.id, "maintenance", (START + timedelta(weeks=7)).date())
    progress = record.progress.objective_progress(objective.id)
    assert [p.phase for p in progress.points] == ["baseline"] * 3 + ["intervention"] * 4 + ["maintenance"]
    assert progress.baseline == pytest.approx(statistics.fmean([90, 80, 90]))  # the phase's mean
    assert progress.mastered_on == (START + timedelta(weeks=6)).date()  # weeks 4-6, not weeks 0-2
    assert [(c.phase, c.since) for c in progress.phase_changes()] == [
        ("intervention", (START + timedelta(weeks=3)).date()),
        ("maintenance", (START + timedelta(weeks=7)).date()),
    ]
    with pytest.raises(ValueError, match="unknown phase 'teaching'"):
        record.caseload.set_phase(objective.id, "teaching", START.date())
    record.caseload.set_phase(
        objective.id, "probe", (START + timedelta(weeks=3)).date()
    )  # corrected: the last wins
    assert [c.phase for c in record.caseload.phases(objective.id)] == ["baseline", "probe", "maintenance"]
    chart = progress_chart(record.progress.objective_progress(objective.id), objective.description)
    assert chart.startswith(b"\x89PNG")


def test_a_rate_is_over_the_time_observed_not_the_whole_session(record: Record) -> None:
    client = record.caseload.add_client("Ava")
    goal = record.caseload.add_goal(client.id, "social", "play")
    turns = record.caseload.add_objective(
        goal.id, "turn initiations", MasteryCriterion("count_per_minute", 1.5, 2)
    )
    other = record.caseload.add_objective(
        goal.id, "peer greetings", MasteryCriterion("count_per_minute", 1, 2)
    )
    session = record.sessions.start_session([client.id], started_at=START)
    drafts = [EventDraft(ObservationStart(), objective_id=turns.id, wall_time=at(1))]
    drafts += [EventDraft(Count("turn"), objective_id=turns.id, wall_time=at(1.5 + k / 3)) for k in range(6)]
    drafts += [EventDraft(ObservationStop(), objective_id=turns.id, wall_time=at(4))]  # 3 min observed
    drafts += [EventDraft(Count("greeting"), objective_id=other.id, wall_time=at(10 + k)) for k in range(4)]
    drafts += [EventDraft(ObservationStart(), objective_id=turns.id, wall_time=at(38))]  # open: to the end
    record.events.log_many(session.id, drafts)
    record.sessions.end_session(session.id, ended_at=at(40))
    summary = record.progress.summary(session.id)
    observed = summary.for_objective(turns.id)
    assert observed is not None and observed.observed_minutes == pytest.approx(5.0)
    assert observed.counts["turn"] == CountStats(6, pytest.approx(6 / 5), True)
    unobserved = summary.for_objective(other.id)
    assert unobserved is not None and unobserved.observed_minutes is None
    assert unobserved.counts["greeting"] == CountStats(4, pytest.approx(4 / 40), False)  # the whole session
    (point,) = record.progress.objective_progress(turns.id).points
    assert point.value == pytest.approx(6 / 5) and point.sample == 6


def test_no_response_and_refused_are_opportunities_never_successes(record: Record) -> None:
    client = record.caseload.add_client("Ava")
    goal = record.caseload.add_goal(client.id, "communication", "requests")
    objective = record.caseload.add_objective(goal.id, "2-word request")
    session = record.sessions.start_session([client.id], started_at=START)
    trials = [Trial(True, "independent")] * 6 + [Trial(False, "independent", "no response")] * 3
    trials += [Trial(False, "independent", "refused")]
    log_payloads = [EventDraft(t, objective_id=objective.id, wall_time=at(i)) for i, t in enumerate(trials)]
    record.events.log_many(session.id, log_payloads)
    record.sessions.end_session(session.id, ended_at=at(30))
    group = record.progress.summary(session.id).for_objective(objective.id)
    assert group is not None and group.trials is not None
    stats = group.trials
    assert (stats.n, stats.correct, stats.no_response, stats.refused) == (10, 6, 3, 1)
    assert stats.pct_correct == 60.0 and stats.pct_independent == 60.0
    assert record.progress.objective_progress(objective.id).points[0].value == 60.0
    with pytest.raises(ValueError, match="cannot be correct"):
        Trial(True, "independent", "refused")
    with pytest.raises(ValueError, match="not one of no response, refused"):
        Trial(False, "independent", "asleep")
