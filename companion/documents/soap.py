"""SOAP session notes whose Objective section is written from the logged data.

The therapist types Subjective, Assessment and Plan; Objective is regenerated from the events every time
the draft is made, so it can never drift from the data ("8/10 independent trials (80%) at 84 bpm during
TIMP drum reach."). A finalised note is never rewritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from companion.documents.wording import (
    group_sentences,
    number_objectives,
    objective_heading,
    plan_label,
    progress_sentence,
)
from companion.record import Record, SessionNote, SessionSummary
from companion.record.progress import objective_status


def session_header(summary: SessionSummary, titles: Mapping[str, str] | None = None) -> str:
    session = summary.session
    parts = [f"{session.date.isoformat()}", f"{summary.minutes:.0f} min"]
    if session.setting:
        parts.append(session.setting)
    if session.is_group:
        parts.append(f"group of {len(session.client_ids)}")
    line = ", ".join(parts)
    if summary.plan_ids:
        line += "; interventions: " + ", ".join(plan_label(p, titles) for p in summary.plan_ids)
    if session.cpt_codes:
        line += "; CPT " + ", ".join(session.cpt_codes)
    return line + "."


def objective_section(
    record: Record, summary: SessionSummary, client_id: int, titles: Mapping[str, str] | None = None
) -> str:
    """The O of SOAP for one client: the session header, then each objective's figures with its status to
    date (the goals addressed, as a payer reads them), numbered as the app numbers them."""
    goals = record.caseload.goals(client_id)
    numbering = number_objectives(goals, record.caseload.objectives(client_id, include_archived=True))
    lines = [session_header(summary, titles)]
    groups = summary.for_client(client_id) + [g for g in summary.groups if g.client_id is None]
    for group in groups:
        sentences = group_sentences(group, titles)
        if not sentences:
            continue
        objective = record.caseload.objective(group.objective_id) if group.objective_id is not None else None
        heading = objective_heading(objective, numbering.get(group.objective_id or 0))
        if objective is not None:
            to_date = record.progress.objective_progress(objective.id, end=summary.session.date)
            goal = next((g for g in goals if g.id == objective.goal_id), None)
            heading += f" ({goal.domain} goal; {objective_status(to_date)} to date)" if goal else ""
        lines.append(heading + ":")
        lines.extend(f"- {sentence}" for sentence in sentences)
    return "\n".join(lines)


def assessment_hint(record: Record, summary: SessionSummary, client_id: int) -> str:
    """Progress to date for each objective worked on, offered as a starting point for the Assessment."""
    worked_on = [g.objective_id for g in summary.for_client(client_id) if g.objective_id is not None]
    lines = []
    for objective_id in worked_on:
        progress = record.progress.objective_progress(objective_id, end=summary.session.date)
        lines.append(f"{progress.objective.description}: {progress_sentence(progress)}")
    return "\n".join(lines)


def draft_note(
    record: Record, session_id: int, client_id: int, titles: Mapping[str, str] | None = None
) -> SessionNote:
    """The saved note with Objective rewritten from the data (and Assessment pre-filled if still empty).

    Nothing is saved: the app shows the draft, the therapist edits S/A/P and calls `record.notes.save_note`.
    """
    saved = record.notes.note(session_id, client_id)
    if saved.finalised:
        return saved
    summary = record.progress.summary(session_id)
    assessment = saved.assessment or assessment_hint(record, summary, client_id)
    objective = objective_section(record, summary, client_id, titles)
    return replace(saved, objective=objective, assessment=assessment)


def subjective_with_home_practice(note: SessionNote) -> str:
    """The whole S of SOAP: what was reported, then home carry-over as the carers reported it."""
    said = note.home_report.strip().rstrip(".")
    if not note.home_practice and not said:
        return note.subjective
    home = f"Home practice since the last session: {note.home_practice or 'not said'}"
    return f"{note.subjective.rstrip()}\n{home}{f' ({said})' if said else ''}.".strip()


def objective_with_observations(note: SessionNote) -> str:
    """The whole O of SOAP: the figures drafted from the data, then what the therapist observed."""
    observed = note.observations.strip()
    if not observed:
        return note.objective
    return f"{note.objective.rstrip()}\nTherapist's observations: {observed}".strip()


def note_text(note: SessionNote) -> str:
    """The note as plain text with the four SOAP headings."""
    sections = [
        ("S", subjective_with_home_practice(note)),
        ("O", objective_with_observations(note)),
        ("A", note.assessment),
        ("P", note.plan),
    ]
    return "\n".join(f"{letter}: {text.strip() or '-'}" for letter, text in sections)
