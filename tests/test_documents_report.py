"""The quarterly progress report: figures, narrative, recommendations and a PDF with a chart per objective."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from companion.cli import main
from companion.demo import generate_demo
from companion.documents.report import build_report, report_pdf
from companion.record import Record

TODAY = date(2025, 6, 30)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    data = tmp_path_factory.mktemp("demo")
    with Record.open(data, backup_every=None) as record:
        generate_demo(record, today=TODAY)
    yield data


def test_report_figures_and_narrative(demo: Path) -> None:
    with Record.open(demo, backup_every=None) as record:
        leo = record.find_client("Leo")
        report = build_report(record, leo.id, date(2025, 4, 1), TODAY)
        objectives = record.objectives(leo.id)
    assert report.sessions and all(date(2025, 4, 1) <= s.date <= TODAY for s in report.sessions)
    assert [p.objective for p in report.progress] == objectives
    assert report.narrative.startswith(f"Leo attended {len(report.sessions)} sessions")
    mastered = sum(p.mastered for p in report.progress)
    assert f"{mastered} of {len(objectives)} objectives met their mastery criterion" in report.narrative
    assert len(report.recommendations.splitlines()) == len(objectives)
    assert report.interventions[0][1] == len(report.sessions)


def test_report_pdf_has_objectives_and_charts(demo: Path, tmp_path: Path) -> None:
    with Record.open(demo, backup_every=None) as record:
        leo = record.find_client("Leo")
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
    assert "Client J" in text and "Jay" not in text and "Birth year" not in text


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
