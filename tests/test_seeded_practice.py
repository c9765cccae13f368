"""The seeded practice the app's tests share (`support.practice`) has the shape they expect."""

from __future__ import annotations

from pathlib import Path

from support.practice import make_practice


def test_the_practice_has_what_the_app_tests_expect(tmp_path: Path) -> None:
    practice = make_practice(tmp_path)
    with practice.open() as record:
        assert [c.display_name for c in record.caseload.clients()] == ["Ava", "Ben", "Cleo"]
        assert len(record.sessions.sessions(practice.ava)) == 4
        assert record.caseload.prompt_hierarchy(practice.ben) == ("independent", "verbal", "physical")
        assert record.caseload.objectives(practice.cleo) == []
        progress = record.progress.objective_progress(practice.ava_requests)
        assert [round(p.value) for p in progress.points] == [50, 62, 75, 88]
