"""The demo practice: deterministic, realistic enough to review, and using the shipped plan ids."""

from __future__ import annotations

import statistics
from datetime import date
from pathlib import Path

from companion.demo import CLIENTS, GROUPS, generate_demo
from companion.record import Record

TODAY = date(2025, 6, 30)
SHIPPED_PLANS = {
    "ras-gait-training",
    "timp-drum-reach",
    "pse-sit-to-stand",
    "mit-phrase-production",
    "ts-breath-support",
    "hello-song-greeting",
    "sycom-turn-taking-drum",
    "mact-attention-drumming",
    "song-recall-reminiscence",
    "iso-principle-relaxation",
    "lyric-analysis-coping",
    "choice-making-instruments",
    "keyboard-finger-isolation",
    "songwriting-feelings",
    "drum-circle-group-cohesion",
}


def practice(path: Path) -> list[tuple[str, int, list[float]]]:
    with Record.open(path, backup_every=None) as record:
        generate_demo(record, today=TODAY)
        return [
            (
                c.display_name,
                len(record.sessions(c.id)),
                [p.latest or 0 for p in record.client_progress(c.id)],
            )
            for c in record.clients()
        ]


def test_demo_is_deterministic_and_improving(tmp_path: Path) -> None:
    first = practice(tmp_path / "a")
    assert first == practice(tmp_path / "b")
    assert len(first) == len(CLIENTS) + sum(len(group.members) for group in GROUPS) == 9
    assert all(sessions >= 10 for _, sessions, _ in first)
    with Record.open(tmp_path / "a", backup_every=None) as record:
        progress = [p for c in record.clients() for p in record.client_progress(c.id)]
        improving = [p for p in progress if p.slope_per_week is not None and p.slope_per_week != 0]
        assert len(improving) == len(progress)
        assert sum(p.mastered for p in progress) >= len(progress) // 2
        used = {plan for s in record.sessions() for plan in s.plan_ids}
        assert used <= SHIPPED_PLANS and len(used) >= 14
        last = record.sessions(record.find_client("Mr. G").id)[-1]
        note = record.note(last.id, last.client_ids[0])
        assert note.finalised and "steps/min" in note.objective and note.subjective and note.plan
        assert max(s.date for s in record.sessions()) <= TODAY


def test_demo_group_sessions_log_each_child_separately(tmp_path: Path) -> None:
    with Record.open(tmp_path / "demo", backup_every=None) as record:
        generate_demo(record, today=TODAY)
        group = [s for s in record.sessions() if len(s.client_ids) == 3]
        assert len(group) >= 10
        last = group[-1]
        trials = [e for e in record.session_events(last.id) if e.kind == "trial"]
        assert all(sum(e.client_id == child for e in trials) == 10 for child in last.client_ids)
        notes = [record.note(last.id, client_id) for client_id in last.client_ids]
        assert all(note.finalised and "independent" in note.objective for note in notes)


def test_demo_has_a_client_for_each_kind_of_data(tmp_path: Path) -> None:
    with Record.open(tmp_path, backup_every=None) as record:
        generate_demo(record, today=TODAY)
        leo, mr_g, maya = (record.find_client(name) for name in ("Leo", "Mr. G", "Maya"))
        mit = [o for o in record.objectives(leo.id) if o.prompt_levels]
        assert [o.prompt_levels[-1] for o in mit] == ["unison"]  # trials on the objective's own hierarchy
        walk = next(o for o in record.objectives(mr_g.id) if o.criterion.metric == "measure_last")
        assert record.objective_progress(walk.id).mastered  # a timed walk in seconds, at most 12
        on_task = next(o for o in record.objectives(maya.id) if o.criterion.metric == "interval_pct")
        assert len(record.objective_progress(on_task.id).points) >= 10  # momentary time sampling
        group = record.sessions(maya.id)
        observed = [s for s in group if record.second_observers(s.id)]
        assert len(observed) >= 3 and all(record.agreement(s.id) for s in observed)
        measures = {a.measure for s in observed for a in record.agreement(s.id)}
        assert measures == {"trial-by-trial", "total count", "interval-by-interval"}
        figures = [a.agreement_pct for s in observed for a in record.agreement(s.id)]
        assert statistics.fmean(figures) >= 80 and min(figures) < 100  # observers differ a little, as they do
