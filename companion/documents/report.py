"""The quarterly progress report for one client over a date range: what families and teams receive.

Built from the same progress figures the app shows (one value per session per objective, weekly trend,
mastery), with a chart per objective, a narrative written from the data and a recommendations field the
therapist may replace with their own words.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from companion.documents.charts import progress_chart
from companion.documents.export import file_slug
from companion.documents.pdf import PdfDocument
from companion.documents.selection import DEIDENTIFIED, pseudonym, safe_harbor
from companion.documents.wording import number_objectives, plan_label, with_unit
from companion.record import Client, Goal, Measure, ObjectiveProgress, Record, Session
from companion.record.attendance import attendance_summary
from companion.record.model import HOME_PRACTICE, SessionNote, Therapist
from companion.record.progress import CURRENT_SESSIONS, STATUSES, objective_status


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
    home_carry_over: str = ""
    """How often the carers reported practising at home, and what they said last (`home_carry_over`)."""
    statuses: Mapping[int, str] = field(default_factory=dict)
    """Objective id -> met, maintained, progressing, not progressing, regressed or discontinued."""
    numbers: Mapping[int, int] = field(default_factory=dict)
    """Objective id -> its number as the app shows it."""
    met_on: Mapping[int, date] = field(default_factory=dict)
    """Objective id -> the date it met its criterion, over all its sessions (as the app says it)."""
    units: Mapping[int, str] = field(default_factory=dict)
    """Objective id -> the unit its measures were taken in ("s", "deg"), for objectives that measure."""
    therapist: Therapist = field(default_factory=Therapist)

    def for_goal(self, goal_id: int) -> list[ObjectiveProgress]:
        return [p for p in self.progress if p.objective.goal_id == goal_id]


def improving(progress: ObjectiveProgress) -> bool:
    """True when the trend points toward the criterion (up for "at least", down for "at most")."""
    if progress.slope_per_week is None:
        return False
    sign = 1 if progress.objective.criterion.direction == "at_least" else -1
    return progress.slope_per_week * sign > 0


SHORT_SESSION_MINUTES = 10
"""A session shorter than this (a probe, an interrupted visit) is flagged: its figures weigh little."""


def write_narrative(
    name: str,
    sessions: Sequence[Session],
    progress: Sequence[ObjectiveProgress],
    plans: Sequence[str],
    statuses: Mapping[int, str] | None = None,
    span_weeks: float = 13,
) -> str:
    """A plain-language summary of the period written from the figures: service frequency and duration,
    interventions, each objective's status, short sessions, and whether to continue."""
    if not sessions:
        return f"{name} had no sessions in this period."
    minutes = [s.duration_minutes for s in sessions if s.duration_minutes]
    settings = sorted({s.setting for s in sessions if s.setting})
    per_week = len(sessions) / max(span_weeks, 1)
    text = [
        f"{name} attended {len(sessions)} session{'s' if len(sessions) != 1 else ''} over {span_weeks:.0f} "
        f"weeks (about {per_week:.1f} a week)"
        + (f", {statistics.fmean(minutes):.0f} minutes on average" if minutes else "")
        + (f", in the {', '.join(settings)} setting" if settings else "")
        + "."
    ]
    if plans:
        text.append(f"Main interventions: {', '.join(plans[:4])}.")
    shown = statuses or {}
    counts = Counter(
        shown.get(p.objective.id, "not measured") if p.points else "not measured" for p in progress
    )
    order = [*STATUSES, "not measured"]
    text.append(
        f"Of {len(progress)} objectives: " + ", ".join(f"{counts[s]} {s}" for s in order if counts[s]) + "."
    )
    short = [
        s for s in sessions if s.duration_minutes is not None and s.duration_minutes < SHORT_SESSION_MINUTES
    ]
    if short:
        text.append(
            f"{len(short)} session{'s were' if len(short) > 1 else ' was'} shorter than "
            f"{SHORT_SESSION_MINUTES} minutes ("
            + ", ".join(f"{s.date.isoformat()}: {s.duration_minutes or 0:.0f} min" for s in short)
            + "); their figures weigh little."
        )
    text.append(continuation(counts))
    return " ".join(text)


def home_carry_over(notes: Sequence[tuple[date, SessionNote]]) -> str:
    """Home practice over the period as the carers reported it on each session's note: how many sessions
    it was asked about, each answer counted, and the latest thing they said."""
    asked = [(day, note) for day, note in notes if note.home_practice]
    if not asked:
        return f"Not recorded on any of the {len(notes)} session notes of this period."
    counts = Counter(note.home_practice for _, note in asked)
    answers = ", ".join(f"{answer} {counts[answer]}" for answer in HOME_PRACTICE if counts[answer])
    text = f"Asked at {len(asked)} of {len(notes)} sessions: {answers}."
    said = [(day, note) for day, note in asked if note.home_report.strip()]
    if said:
        day, note = said[-1]
        words = note.home_report.strip().rstrip(".")
        text += f" Latest report ({day.isoformat()}, {note.home_practice}): {words}."
    return text


def continuation(counts: Mapping[str, int]) -> str:
    """Whether services should continue, from the objectives' statuses."""
    open_ = counts.get("progressing", 0) + counts.get("not progressing", 0) + counts.get("regressed", 0)
    if open_ == 0:
        return "Every objective is met or maintained: consider new objectives, or discharge with a home plan."
    if counts.get("progressing", 0):
        return (
            "Continued music therapy is recommended: objectives are progressing toward their criteria "
            "with the current interventions."
        )
    return (
        "Continued music therapy is recommended with revised interventions or objectives (none progressing)."
    )


def suggest_recommendations(
    progress: Sequence[ObjectiveProgress],
    statuses: Mapping[int, str] | None = None,
    numbers: Mapping[int, int] | None = None,
    units: Mapping[int, str] | None = None,
) -> str:
    """Starting points for the Recommendations field, one per objective and worded from its own figures;
    the therapist edits them."""
    lines = []
    for p in progress:
        number = (numbers or {}).get(p.objective.id)
        name = f"Objective {number} ({p.objective.description})" if number else p.objective.description
        status = (statuses or {}).get(p.objective.id, "not progressing")
        metric = p.objective.criterion.metric
        current = p.current()
        unit = (units or {}).get(p.objective.id, "")
        level = "" if current is None else f" at {with_unit(current, metric, unit)}"
        if not p.points:
            lines.append(f"{name}: not addressed this period; decide whether to keep, revise or discontinue.")
        elif status in ("met", "maintained"):
            lines.append(
                f"{name}: {status}{level}; set a new objective, fade prompts or cues, or carry the skill "
                "over to home and school."
            )
        elif status == "progressing":
            target = with_unit(p.objective.criterion.threshold, metric, unit)
            lines.append(f"{name}: progressing{level} toward {target}; continue and review next quarter.")
        elif status == "regressed":
            lines.append(
                f"{name}: regressed{level}; look for a cause (health, routine) and step the support back up."
            )
        else:
            lines.append(
                f"{name}: no measurable progress{level}; revise the intervention, the cue or the criterion."
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
    client = record.caseload.client(client_id)
    sessions = tuple(record.sessions.sessions(client_id, start, end))
    objectives = record.caseload.objectives(client_id)
    progress = tuple(record.progress.objective_progress(o.id, start, end) for o in objectives)
    before = {
        o.id: record.progress.objective_progress(o.id, end=start - timedelta(days=1)) for o in objectives
    }
    statuses = {p.objective.id: objective_status(p, before[p.objective.id]) for p in progress}
    met_on = {
        o.id: found
        for o in objectives
        if (found := record.progress.objective_progress(o.id, end=end).mastered_on) is not None
    }
    goals = tuple(record.caseload.goals(client_id))
    numbers = number_objectives(goals, objectives)
    measured = record.events.latest_by_objective([o.id for o in objectives], ("measure",))
    units = {
        e.objective_id: e.payload.unit for e in measured if isinstance(e.payload, Measure) and e.objective_id
    }
    used = Counter(plan for s in sessions for plan in s.plan_ids)
    interventions = tuple(used.most_common())
    shown = replace(client, display_name=pseudonym(client), birth_year=None) if deidentify else client
    narrative = write_narrative(
        shown.display_name,
        sessions,
        progress,
        [plan_label(p, titles) for p, _ in interventions],
        statuses,
        ((end - start).days + 1) / 7,
    )
    return QuarterlyReport(
        client=shown,
        start=start,
        end=end,
        sessions=sessions,
        goals=goals,
        progress=progress,
        interventions=interventions,
        narrative=narrative,
        recommendations=(
            recommendations
            if recommendations is not None
            else suggest_recommendations(progress, statuses, numbers, units)
        ),
        deidentified=deidentify,
        attendance=attendance_summary(record.sessions.attendance(client_id, start, end)),
        home_carry_over=home_carry_over([(s.date, record.notes.note(s.id, client_id)) for s in sessions]),
        statuses=statuses,
        numbers=numbers,
        met_on=met_on,
        units=units,
        therapist=record.notes.therapist(),
    )


def objective_lines(report: QuarterlyReport, progress: ObjectiveProgress) -> list[str]:
    """Criterion, baseline to current level with units, status and the date it was met (as the app says)."""
    objective = progress.objective
    metric, unit = objective.criterion.metric, report.units.get(objective.id, "")
    lines = [f"Criterion: {objective.criterion.describe()}."]
    current, baseline = progress.current(), progress.baseline
    if current is None or baseline is None:
        lines.append("No data in this period.")
    else:
        recent = min(len(progress.points), CURRENT_SESSIONS)
        lines.append(
            f"Baseline {with_unit(baseline, metric, unit)} -> current {with_unit(current, metric, unit)} "
            f"(mean of the last {recent} session{'s' if recent != 1 else ''}; "
            f"{len(progress.points)} sessions this period)."
        )
    status = report.statuses.get(objective.id, "not progressing")
    met = report.met_on.get(objective.id)
    lines.append(f"Status: {status}" + (f" (criterion met on {met.isoformat()})." if met else "."))
    return lines


def report_file_name(report: QuarterlyReport) -> str:
    """`report-NAME-FROM-to-TO.pdf`, NAME the client's display name (the pseudonym when de-identified), so
    the family's copy is found by name and the app and the CLI name it alike."""
    suffix = "-deidentified" if report.deidentified else ""
    return f"report-{file_slug(report.client.display_name)}-{report.start}-to-{report.end}{suffix}.pdf"


def report_pdf(report: QuarterlyReport, titles: Mapping[str, str] | None = None) -> bytes:
    """The report as a PDF: summary, goals and objectives with charts, recommendations, signature block."""
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
    if client.diagnoses:
        details.append(f"Diagnoses (ICD-10-CM): {', '.join(client.diagnoses)}")
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
        for progress in report.for_goal(goal.id):
            objective = progress.objective
            number = report.numbers.get(objective.id)
            pdf.bullets(f"Objective {number}: {objective.description}", objective_lines(report, progress))
            if progress.points:
                pdf.image(progress_chart(progress, objective.description, not report.deidentified))
    pdf.heading("Home carry-over")
    pdf.paragraph(report.home_carry_over or "-")
    pdf.heading("Recommendations")
    pdf.paragraph(report.recommendations or "-")
    therapist = report.therapist
    signer = therapist.signature or "______________________________"
    npi = f"   NPI {therapist.npi}" if therapist.npi else ""
    pdf.paragraph(
        f"\nTherapist: {signer}{npi}\nSignature: ______________________________    Date: ______________"
    )
    return pdf.output()
