"""The quarterly progress report for one client over a date range: what families and teams receive.

Built from the same progress figures the app shows (one value per session per objective, weekly trend,
mastery), with a chart per objective, a narrative written from the data and a recommendations field the
therapist may replace with their own words.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from companion.documents.charts import progress_chart
from companion.documents.pdf import PdfDocument
from companion.documents.selection import DEIDENTIFIED, pseudonym, safe_harbor
from companion.documents.wording import plan_label, progress_sentence
from companion.record import Client, Goal, ObjectiveProgress, Record, Session
from companion.record.attendance import attendance_summary


@dataclass(frozen=True)
class QuarterlyReport:
    client: Client
    start: date
    end: date
    sessions: tuple[Session, ...]
    goals: tuple[Goal, ...]
    progress: tuple[ObjectiveProgress, ...]
    interventions: tuple[tuple[str, int], ...]  # plan id, sessions it was used in; most used first
    narrative: str
    recommendations: str
    deidentified: bool
    attendance: str = ""
    """Attended, late, cancelled (by whom) and no-shows over the period, as counted by a payer."""

    def for_goal(self, goal_id: int) -> list[ObjectiveProgress]:
        return [p for p in self.progress if p.objective.goal_id == goal_id]


def improving(progress: ObjectiveProgress) -> bool:
    """True when the trend points toward the criterion (up for "at least", down for "at most")."""
    if progress.slope_per_week is None:
        return False
    sign = 1 if progress.objective.criterion.direction == "at_least" else -1
    return progress.slope_per_week * sign > 0


def write_narrative(
    name: str, sessions: Sequence[Session], progress: Sequence[ObjectiveProgress], plans: Sequence[str]
) -> str:
    """A plain-language summary of the period written from the figures."""
    if not sessions:
        return f"{name} had no sessions in this period."
    minutes = [s.duration_minutes for s in sessions if s.duration_minutes]
    settings = sorted({s.setting for s in sessions if s.setting})
    text = [
        f"{name} attended {len(sessions)} session{'s' if len(sessions) != 1 else ''}"
        + (f" (average {statistics.fmean(minutes):.0f} minutes)" if minutes else "")
        + (f" in the {', '.join(settings)} setting" if settings else "")
        + "."
    ]
    if plans:
        text.append(f"Main interventions: {', '.join(plans[:4])}.")
    measured = [p for p in progress if p.points]
    mastered = [p for p in measured if p.mastered]
    growing = [p for p in measured if not p.mastered and improving(p)]
    flat = [p for p in measured if not p.mastered and not improving(p)]
    text.append(f"{len(mastered)} of {len(progress)} objectives met their mastery criterion in this period.")
    for label, group in (("Progressing", growing), ("Needing review", flat)):
        if group:
            text.append(f"{label}: " + "; ".join(p.objective.description for p in group) + ".")
    unmeasured = len(progress) - len(measured)
    if unmeasured:
        text.append(
            f"{unmeasured} objective{'s were' if unmeasured > 1 else ' was'} not measured this period."
        )
    return " ".join(text)


def suggest_recommendations(progress: Sequence[ObjectiveProgress]) -> str:
    """Starting points for the Recommendations field, one per objective; the therapist edits them."""
    lines = []
    for p in progress:
        name = p.objective.description
        if not p.points:
            lines.append(f"{name}: not addressed this period; decide whether to keep, revise or discontinue.")
        elif p.mastered:
            lines.append(
                f"{name}: criterion met; consider a new objective, fading prompts or cues, or generalising "
                "the skill to home and school."
            )
        elif improving(p):
            lines.append(f"{name}: progressing; continue the current interventions and review next quarter.")
        else:
            lines.append(
                f"{name}: no measurable progress; review the intervention, the cue or the criterion."
            )
    return "\n".join(lines)


def build_report(
    record: Record,
    client_id: int,
    start: date,
    end: date,
    *,
    recommendations: str | None = None,
    deidentify: bool = False,
    titles: Mapping[str, str] | None = None,
) -> QuarterlyReport:
    if end < start:
        raise ValueError(f"the report period ends ({end}) before it starts ({start})")
    client = record.client(client_id)
    sessions = tuple(record.sessions(client_id, start, end))
    progress = tuple(record.objective_progress(o.id, start, end) for o in record.objectives(client_id))
    used = Counter(plan for s in sessions for plan in s.plan_ids)
    interventions = tuple(used.most_common())
    shown = replace(client, display_name=pseudonym(client), birth_year=None) if deidentify else client
    narrative = write_narrative(
        shown.display_name, sessions, progress, [plan_label(p, titles) for p, _ in interventions]
    )
    return QuarterlyReport(
        client=shown,
        start=start,
        end=end,
        sessions=sessions,
        goals=tuple(record.goals(client_id)),
        progress=progress,
        interventions=interventions,
        narrative=narrative,
        recommendations=recommendations if recommendations is not None else suggest_recommendations(progress),
        deidentified=deidentify,
        attendance=attendance_summary(record.attendance(client_id, start, end)),
    )


def report_pdf(report: QuarterlyReport, titles: Mapping[str, str] | None = None) -> bytes:
    """The report as a PDF: summary, goals and objectives with charts, recommendations, signature line."""
    client = report.client
    pdf = PdfDocument(f"Progress report: {client.display_name}", safe_harbor if report.deidentified else None)
    details = [
        f"Period: {report.start.isoformat()} to {report.end.isoformat()}",
        f"Sessions: {len(report.sessions)}",
        f"Attendance: {report.attendance}",
    ]
    if client.birth_year and not report.deidentified:
        details.append(f"Birth year: {client.birth_year}")
    if client.population:
        details.append(f"Population: {client.population}")
    pdf.paragraph(" | ".join(details))
    if report.deidentified:
        pdf.paragraph(DEIDENTIFIED, italic=True)
    pdf.heading("Summary")
    pdf.paragraph(report.narrative)
    if report.interventions:
        pdf.bullets(
            "Interventions used",
            [f"{plan_label(p, titles)}: {n} session{'s' if n != 1 else ''}" for p, n in report.interventions],
        )
    for goal in report.goals:
        pdf.heading(f"Goal ({goal.domain}): {goal.description}")
        for number, progress in enumerate(report.for_goal(goal.id), start=1):
            objective = progress.objective
            pdf.bullets(
                f"Objective {number}: {objective.description}",
                [f"Criterion: {objective.criterion.describe()}.", f"Progress: {progress_sentence(progress)}"],
            )
            if progress.points:
                pdf.image(progress_chart(progress, objective.description))
    pdf.heading("Recommendations")
    pdf.paragraph(report.recommendations or "-")
    pdf.paragraph("\nTherapist: ______________________________    Date: ______________")
    return pdf.output()
