"""The quarterly progress report: figures, narrative, recommendations and a PDF with a chart per objective."""

from __future__ import annotations

import io
import re
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from companion.cli import main
from companion.demo.generate import generate_demo
from companion.documents.export import file_slug
from companion.documents.report import (
    build_report,
    home_carry_over,
    objective_lines,
    report_file_name,
    report_pdf,
)
from companion.documents.wording import number_objectives
from companion.record import MasteryCriterion, Objective, ObjectiveProgress, ProgressPoint, Record
from companion.record.progress import STATUSES, objective_status

TODAY = date(2025, 6, 30)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data = tmp_path_factory.mktemp("demo")
    with Record.open(data, backup_every=None) as record:
        generate_demo(record, today=TODAY)
    yield data


def test_report_figures_and_narrative(demo: Path) -> None:
    with Record.open(demo, backup_every=None) as record:
        leo = record.caseload.find_client("Leo")
        report = build_report(record, leo.id, date(2025, 4, 1), TODAY)
        objectives = record.caseload.objectives(leo.id)
    assert report.sessions and all(date(2025, 4, 1) <= s.date <= TODAY for s in report.sessions)
    assert [p.objective for p in report.progress] == objectives
    assert report.narrative.startswith(f"Leo attended {len(report.sessions)} sessions")
    assert set(report.statuses) == {o.id for o in objectives}
    assert set(report.statuses.values()) <= set(STATUSES)
    counted = Counter(report.statuses[p.objective.id] for p in report.progress if p.points)
    assert ", ".join(
        f"{n} {status}" for status, n in sorted(counted.items(), key=lambda i: STATUSES.index(i[0]))
    )
    assert f"Of {len(objectives)} objectives: " in report.narrative
    assert (
        "about " in report.narrative
        and " a week" in report.narrative
        and "Continued music therapy" in (report.narrative)
    )
    lines = report.recommendations.splitlines()
    assert len(lines) == len(objectives) and len(set(lines)) == len(lines)  # one each, none repeated
    numbered = [f"Objective {report.numbers[o.id]} (" for o in objectives]
    assert all(line.startswith(start) for line, start in zip(lines, numbered, strict=True))
    assert report.interventions[0][1] == len(report.sessions)


def test_report_pdf_has_objectives_and_charts(demo: Path, tmp_path: Path) -> None:
    with Record.open(demo, backup_every=None) as record:
        leo = record.caseload.find_client("Leo")
        report = build_report(record, leo.id, date(2025, 1, 1), TODAY, recommendations="Home drum practice.")
    out = tmp_path / "report.pdf"
    out.write_bytes(report_pdf(report))
    reader = PdfReader(out)
    text = " ".join(page.extract_text() for page in reader.pages)
    for progress in report.progress:
        assert progress.objective.description in text
    assert "Home drum practice." in text and "Recommendations" in text
    images = sum(len(page.images) for page in reader.pages)
    assert images == sum(1 for p in report.progress if p.points)


def test_report_command_deidentified(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "jay.pdf"
    args = [
        "--data-dir",
        str(demo),
        "report",
        "--client",
        "Jay",
        "--from",
        "2025-03-01",
        "--to",
        "2025-06-30",
    ]
    result = CliRunner().invoke(main, [*args, "--out", str(out), "--deidentify"])
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o600
    text = " ".join(page.extract_text() for page in PdfReader(out).pages)
    assert "Client E" in text and "Jay" not in text and "Birth year" not in text


def test_export_command_formats(demo: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    base = [
        "--data-dir",
        str(demo),
        "export",
        "--client",
        "Rose",
        "--from",
        "2025-05-01",
        "--to",
        "2025-06-30",
    ]
    for fmt in ("md", "csv", "json", "pdf"):
        out = tmp_path / f"rose.{fmt}"
        result = runner.invoke(main, [*base, "--format", fmt, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 200
    printed = runner.invoke(main, ["--data-dir", str(demo), "export", "1", "--format", "csv", "--out", "-"])
    assert printed.output.startswith("event_id,session_id,session_date,client")
    neither = runner.invoke(main, ["--data-dir", str(demo), "export", "--format", "md"])
    assert neither.exit_code == 2 and "either a SESSION_ID or --client" in neither.output


def test_the_report_tells_the_truth_the_app_tells(demo: Path) -> None:
    """Current level is the mean of the last 3 sessions, not the last one; numbers and met dates are the
    app's; the signature block names the credential."""
    with Record.open(demo, backup_every=None) as record:
        mr_g = record.caseload.find_client("Mr. G")
        report = build_report(record, mr_g.id, date(2025, 4, 1), TODAY)
        numbers = number_objectives(record.caseload.goals(mr_g.id), record.caseload.objectives(mr_g.id))
        all_time = {
            o.id: record.progress.objective_progress(o.id, end=TODAY)
            for o in record.caseload.objectives(mr_g.id)
        }
    assert report.numbers == numbers
    assert report.met_on == {k: p.mastered_on for k, p in all_time.items() if p.mastered_on is not None}
    progress = next(p for p in report.progress if len(p.points) >= 3)
    assert progress.current() == pytest.approx(statistics.fmean(p.value for p in progress.points[-3:]))
    text = " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(report_pdf(report))).pages
    )
    assert "Therapist: Jordan Rivera, MT-BC, NMT NPI 1234567893" in text
    assert f"Objective {numbers[progress.objective.id]}: {progress.objective.description}" in text
    assert "(mean of the last 3 sessions;" in text and "Status: " in text


def _progress(values: list[float], criterion: MasteryCriterion, archived: bool = False) -> ObjectiveProgress:
    objective = Objective(1, 1, 1, "o", criterion, archived=archived)
    points = tuple(ProgressPoint(k, date(2025, 1, 1 + k), v, 10) for k, v in enumerate(values))
    return ObjectiveProgress(objective, points, None, None, 0)


def test_each_status_from_the_figures() -> None:
    at_least = MasteryCriterion("percent_independent", 80, 3)
    rising = _progress([30, 40, 50, 60, 62], at_least)
    assert objective_status(rising) == "progressing"
    assert rising.current() == pytest.approx(57.33, abs=0.01)  # not the last session alone
    assert objective_status(_progress([50, 52, 48, 51], at_least)) == "not progressing"  # within 4 points
    assert objective_status(_progress([10], at_least)) == "too few sessions"  # a baseline, no direction
    assert objective_status(_progress([60, 50, 40, 30], at_least)) == "regressed"
    assert objective_status(_progress([60, 70], at_least, archived=True)) == "discontinued"
    met_before = replace(_progress([90, 90, 90], at_least), mastered_on=date(2024, 12, 1))
    assert objective_status(_progress([85, 90], at_least), met_before) == "maintained"
    assert objective_status(_progress([60, 55], at_least), met_before) == "regressed"
    faster = _progress([20, 18, 16, 14], MasteryCriterion("measure_last", 12, 3, "at_most"))
    assert objective_status(faster) == "progressing"  # a walk time falling is progress


def test_home_carry_over_is_counted_from_the_notes_and_the_file_is_named_for_the_client(
    demo: Path, tmp_path: Path
) -> None:
    with Record.open(demo, backup_every=None) as record:
        leo = record.caseload.find_client("Leo")
        report = build_report(record, leo.id, date(2025, 4, 1), TODAY)
        notes = [record.notes.note(s.id, leo.id) for s in report.sessions]
        deidentified = build_report(record, leo.id, date(2025, 4, 1), TODAY, deidentify=True)
    answers = Counter(n.home_practice for n in notes if n.home_practice)
    assert answers and sum(answers.values()) < len(notes)  # the demo asks at most sessions, not all
    expected = ", ".join(f"{a} {answers[a]}" for a in ("practised", "partly", "not practised") if answers[a])
    assert report.home_carry_over.startswith(
        f"Asked at {sum(answers.values())} of {len(notes)} sessions: {expected}. Latest report ("
    )
    latest = [n for n in notes if n.home_practice and n.home_report][-1]
    assert report.home_carry_over.endswith(f"{latest.home_practice}): {latest.home_report}.")
    text = " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(report_pdf(report))).pages
    )
    assert "Home carry-over " + report.home_carry_over in text
    assert report_file_name(report) == "report-leo-2025-04-01-to-2025-06-30.pdf"
    pseudonym = deidentified.client.display_name  # e.g. "Client A"
    assert (
        report_file_name(deidentified)
        == f"report-{file_slug(pseudonym)}-2025-04-01-to-2025-06-30-deidentified.pdf"
    )
    assert "leo" not in report_file_name(deidentified)


def test_home_carry_over_says_when_it_was_never_asked() -> None:
    assert home_carry_over([]) == "Not recorded on any of the 0 session notes of this period."


def test_a_measured_objective_is_reported_in_its_own_unit(demo: Path) -> None:
    """A payer reads "Baseline 16.3 s -> current 11.6 s", not bare numbers: a measure's unit is its own."""
    with Record.open(demo, backup_every=None) as record:
        mr_g = record.caseload.find_client("Mr. G")
        report = build_report(record, mr_g.id, date(2025, 1, 1), TODAY)
    walk = next(p for p in report.progress if p.objective.criterion.metric == "measure_last")
    assert report.units[walk.objective.id] == "s"
    line = next(line for line in objective_lines(report, walk) if line.startswith("Baseline"))
    assert re.match(r"Baseline [\d.]+ s -> current [\d.]+ s ", line), line
    assert " s" in next(r for r in report.recommendations.splitlines() if walk.objective.description in r)
