"""Several takes in one session: how an objective's rule makes them one value, and timed walks.

A 10 m walk timed three times is scored as their mean (the 10-metre walk test), a sustained vowel by the
best attempt, a range of motion by its change from before to after; time on task adds up. The rule is
the objective's (`MasteryCriterion.summary`), and progress, the live tally and the note all follow it.
Stored in a real SQLite record.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.record_times import START, at

from companion.cli import main
from companion.documents.wording import group_sentences, walk_figures
from companion.record import (
    Count,
    Duration,
    EventDraft,
    MasteryCriterion,
    Measure,
    Objective,
    Payload,
    Record,
    Walk,
)
from companion.record.model import summarise_takes


def one_session(record: Record, criterion: MasteryCriterion, payloads: list[Payload]) -> Objective:
    client = record.caseload.add_client("Ben")
    goal = record.caseload.add_goal(client.id, "gross motor", "gait")
    objective = record.caseload.add_objective(goal.id, "the objective", criterion)
    session = record.sessions.start_session([client.id], started_at=START)
    drafts = [EventDraft(p, objective_id=objective.id, wall_time=at(i + 1)) for i, p in enumerate(payloads)]
    record.events.log_many(session.id, drafts)
    record.sessions.end_session(session.id, ended_at=at(45))
    return objective


def session_value(record: Record, objective: Objective) -> tuple[float, int]:
    (point,) = record.progress.objective_progress(objective.id).points
    return point.value, point.sample


def test_the_rules_on_plain_numbers() -> None:
    takes = [14.0, 11.0, 12.5]
    assert summarise_takes("sum", takes) == 37.5
    assert summarise_takes("best", takes) == 14.0
    assert summarise_takes("best", takes, lower_is_better=True) == 11.0
    assert (summarise_takes("first", takes), summarise_takes("last", takes)) == (14.0, 12.5)
    assert summarise_takes("mean", takes) == pytest.approx(12.5)
    assert summarise_takes("change", takes, change=-3.0) == -3.0
    assert summarise_takes("change", takes) is None and summarise_takes("mean", []) is None


def test_a_criterion_refuses_a_rule_its_metric_cannot_have() -> None:
    with pytest.raises(ValueError, match="is for duration_seconds and measure_last and gait_velocity"):
        MasteryCriterion("percent_independent", summary="best")
    with pytest.raises(ValueError, match="'change'"):
        MasteryCriterion("duration_seconds", summary="change")
    with pytest.raises(ValueError, match="unknown summary"):
        MasteryCriterion("measure_last", summary="median")  # type: ignore[arg-type]
    assert MasteryCriterion("duration_seconds").summary_rule == "sum"
    assert MasteryCriterion("gait_velocity").summary_rule == "mean"
    assert MasteryCriterion("percent_correct").summary_rule is None


def test_durations_add_up_unless_the_objective_asks_for_the_best(record: Record) -> None:
    vowels = [Duration("sustained /a/", s) for s in (6.0, 9.5, 8.0)]
    total = one_session(record, MasteryCriterion("duration_seconds", 20, 3), list(vowels))
    assert session_value(record, total) == (23.5, 3)
    best = one_session(record, MasteryCriterion("duration_seconds", 10, 3, summary="best"), list(vowels))
    assert session_value(record, best) == (9.5, 3)
    assert "duration seconds (best of the session) >= 10" in best.criterion.describe()


def test_a_walk_time_measured_three_times_is_their_mean_and_best_is_the_fastest(record: Record) -> None:
    walks = [Measure("10 m walk", s, "s", "during") for s in (13.0, 12.0, 11.6)]
    criterion = MasteryCriterion("measure_last", 12, 3, "at_most")
    mean = one_session(record, replace(criterion, summary="mean"), list(walks))
    assert session_value(record, mean) == (pytest.approx(12.2), 3)
    best = one_session(record, replace(criterion, summary="best"), list(walks))
    assert session_value(record, best) == (11.6, 3)
    last = one_session(record, criterion, list(walks))
    assert session_value(record, last) == (11.6, 3)


def test_a_range_of_motion_before_and_after_is_judged_by_its_change(record: Record) -> None:
    rom = [
        Measure("shoulder flexion", 80, "degrees", "before"),
        Measure("shoulder flexion", 95, "degrees", "after"),
    ]
    objective = one_session(record, MasteryCriterion("measure_last", 10, 3, summary="change"), rom)
    assert session_value(record, objective) == (15.0, 2)


def test_the_note_and_the_tally_say_the_rule_and_every_take(record: Record) -> None:
    walks = [Measure("10 m walk", s, "s", "during") for s in (13.0, 12.0, 11.6)]
    vowels = [Duration("sustained /a/", s) for s in (6.0, 9.5)]
    criterion = MasteryCriterion("measure_last", 12, 3, "at_most", summary="mean")
    objective = one_session(record, criterion, [*walks, *vowels])
    group = record.progress.summary(record.sessions.sessions(objective.client_id)[0].id).for_objective(
        objective.id
    )
    assert group is not None and group.criterion == criterion
    lines = group_sentences(group)
    assert "10 m walk: 13, 12, 11.6 s; mean 12.2 s of 3 measurements." in lines
    assert "Sustained /a/: 16 s over 2 episodes." in lines  # not the objective's measure: a total


def test_a_timed_walk_gives_velocity_cadence_and_stride_length() -> None:
    walk = Walk(12.5, 10.0, 17, "cued")
    assert walk.velocity_m_s == pytest.approx(0.8)
    assert walk.cadence_spm == pytest.approx(81.6)
    assert walk.stride_m == pytest.approx(2 * 10 / 17)
    assert Walk(8.0).cadence_spm is None and Walk(8.0).stride_m is None
    with pytest.raises(ValueError, match="takes some time"):
        Walk(0.0)
    with pytest.raises(ValueError, match="at least 2 steps"):
        Walk(10.0, 10.0, 1)
    with pytest.raises(ValueError, match="not one of baseline, cued, cue faded"):
        Walk(10.0, condition="fast")
    assert walk_figures(walk) == "10 m in 12.5 s · 0.80 m/s · 81.6 steps/min · stride 1.18 m (cued)"


def test_walks_summarise_as_the_ten_metre_walk_test_and_judge_gait_velocity(record: Record) -> None:
    walks = [Walk(12.5, 10.0, 17, "baseline"), Walk(12.0, 10.0, 17, "baseline"), Walk(11.5, 10.0, 16, "cued")]
    objective = one_session(record, MasteryCriterion("gait_velocity", 0.8, 3), [*walks, Walk(4.0, 6.0)])
    value, sample = session_value(record, objective)
    assert sample == 3 and value == pytest.approx((0.8 + 10 / 12 + 10 / 11.5) / 3)  # the 6 m walk apart
    group = record.progress.summary(record.sessions.sessions(objective.client_id)[0].id).for_objective(
        objective.id
    )
    assert group is not None and group.walks is not None
    assert [f"{v:.2f}" for v in group.walks.velocities] == ["0.80", "0.83", "0.87"]
    sentence = next(line for line in group_sentences(group) if line.startswith("Timed"))
    assert sentence == (
        "Timed 10 m walk: 0.83 m/s (mean of 3 walks: 0.80, 0.83, 0.87 m/s), cadence 83.4 steps/min, "
        "stride length 1.20 m (baseline, cued)."
    )


def test_the_cli_sets_the_rule_and_refuses_one_that_does_not_fit(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    assert runner.invoke(main, [*data, "clients", "add", "Ben"]).exit_code == 0
    assert (
        runner.invoke(main, [*data, "goals", "add", "Ben", "gait", "--domain", "gross motor"]).exit_code == 0
    )
    args = [
        *data,
        "goals",
        "add-objective",
        "1",
        "10 m walk",
        "--metric",
        "measure_last",
        "--threshold",
        "12",
    ]
    done = runner.invoke(main, [*args, "--threshold", "12", "--at-most", "--summary", "mean"])
    assert done.exit_code == 0, done.output
    assert "measure (mean of the session) <= 12 over 3 consecutive sessions" in done.output
    refused = runner.invoke(main, [*data, "goals", "add-objective", "1", "x", "--summary", "best"])
    assert refused.exit_code == 2 and "is for duration_seconds" in refused.output


def test_the_label_and_unit_an_objective_was_last_logged_with_skip_what_was_undone(record: Record) -> None:
    """What the live session reads to keep an objective's labels and units (`latest_by_objective`)."""
    shoulder = Measure("shoulder flexion", 30.0, "deg", "before")
    objective = one_session(
        record,
        MasteryCriterion("count", 5, 3),
        [Count("turns"), Count("initiations"), shoulder, Measure("reach", 12.0, "cm", "after")],
    )
    latest = record.events.latest_by_objective([objective.id], ("count", "measure"))
    assert [e.payload for e in latest] == [Count("initiations"), Measure("reach", 12.0, "cm", "after")]
    record.events.undo(latest[-1].id)  # the last measure was a slip: the one before it stands
    assert [e.payload for e in record.events.latest_by_objective([objective.id], ("measure",))] == [shoulder]
    assert record.events.latest_by_objective([], ("count",)) == []
