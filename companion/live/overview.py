"""What the start screen shows about one client, gathered in one call off the UI thread.

Progress per objective, interventions suggested for their goals, attendance, recent sessions and a session
left open (the app closed mid-session) that can be resumed. No Textual here: a benchmark or a browser
session can build the same overview.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from companion.documents.wording import num, plan_label
from companion.record import Client, Goal, ObjectiveProgress, Record, Session
from companion.record.attendance import attendance_summary
from interventions import GoalDomain, Library, Suggestion

RECENT = 5


@dataclass(frozen=True)
class ClientOverview:
    client: Client
    goals: tuple[Goal, ...]
    progress: tuple[ObjectiveProgress, ...]
    suggestions: tuple[Suggestion, ...]
    recent: tuple[Session, ...]
    open_session: Session | None
    last_setting: str
    attendance: str = ""
    """E.g. "10 attended (1 late), 1 cancelled by the client, of 11 scheduled" (empty: none recorded)."""
    note_states: dict[int, str] = field(default_factory=dict)
    """Recent session id -> "signed" or "DRAFT" (a draft note is work still owed)."""
    asked_goals: tuple[int, ...] = ()
    """The goal id behind each text the library was asked about (one per objective, then goals without
    any), in that order: what a suggestion's `served` positions refer to."""

    def age(self, today: date) -> int | None:
        year = self.client.birth_year
        return today.year - year if year is not None else None

    def reason(self, suggestion: Suggestion) -> str:
        """Why a plan is suggested, in one line that counts the client's goals (after the library's
        "outside the usual age range" flag, when it has one).

        The library is asked per objective, so its own headline ("serves 4 of your 4 goals") counts
        objectives; here several objectives of one goal are one goal served."""
        goals = dict.fromkeys(self.asked_goals[served.goal] for served in suggestion.served)
        if len(goals) > 1:
            why = f"serves {len(goals)} of {len(dict.fromkeys(self.asked_goals))} goals"
        else:
            why = suggestion.served[0].why if suggestion.served else ""
        return "; ".join(part for part in (suggestion.age_reason, why) if part)


def _goal_query(domain: str, text: str) -> str | tuple[str, str]:
    """A goal as the library's suggester takes it: with its domain when the library knows that domain."""
    try:
        GoalDomain.parse(domain)
    except ValueError:
        return text
    return (domain, text)


def client_overview(record: Record, library: Library, client_id: int, today: date) -> ClientOverview:
    client = record.caseload.client(client_id)
    goals = tuple(record.caseload.goals(client_id))
    domains = {goal.id: goal.domain for goal in goals}
    objectives = record.caseload.objectives(client_id)
    progress = tuple(record.progress.client_progress(client_id))
    unmeasured = [g for g in goals if not any(o.goal_id == g.id for o in objectives)]
    queries = [_goal_query(domains.get(o.goal_id, ""), o.description) for o in objectives]
    queries += [_goal_query(g.domain, g.description) for g in unmeasured]
    asked_goals = tuple(o.goal_id for o in objectives) + tuple(g.id for g in unmeasured)
    age = today.year - client.birth_year if client.birth_year is not None else None
    suggestions = (
        tuple(library.suggest(queries, age=age, population=client.population or None, limit=6))
        if queries
        else ()
    )
    sessions = record.sessions.sessions(client_id)
    open_session = _last_open(sessions)
    recent = tuple(s for s in reversed(sessions) if s.ended_at is not None)[:RECENT]
    last_setting = next((s.setting for s in reversed(sessions) if s.setting), "")
    entries = record.sessions.attendance(client_id)
    notes = {s.id: record.notes.note(s.id, client_id) for s in recent}
    states = {k: "signed" if n.finalised else "DRAFT" for k, n in notes.items() if n.updated_at}
    return ClientOverview(
        client,
        goals,
        progress,
        suggestions,
        recent,
        open_session,
        last_setting,
        attendance_summary(entries) if entries else "",
        states,
        asked_goals,
    )


def session_left_open(record: Record) -> Session | None:
    """The latest session of the record that was not ended, whoever it was with: closing the app's
    window or browser tab (or a crash) leaves a session open, and the next visit must say so first."""
    return _last_open(record.sessions.sessions())


def _last_open(sessions: Sequence[Session]) -> Session | None:
    return next((s for s in reversed(sessions) if s.ended_at is None), None)


def progress_line(progress: ObjectiveProgress) -> str:
    """ "88% now (50% at baseline) · ↑ +12.4/week · 1 of 3 sessions at criterion" """
    criterion = progress.objective.criterion
    if not progress.points:
        return "no data yet · criterion: " + criterion.describe()
    unit = "%" if criterion.metric.startswith(("percent", "sync")) else ""
    parts = [f"{num(progress.latest or 0)}{unit} now (baseline {num(progress.baseline or 0)}{unit})"]
    if progress.slope_per_week is not None:
        arrow = "↑" if progress.slope_per_week > 0 else "↓" if progress.slope_per_week < 0 else "→"
        parts.append(f"{arrow} {progress.slope_per_week:+.1f}/week")
    if progress.mastered_on is not None:
        parts.append(f"met {progress.mastered_on.isoformat()}")
    else:
        parts.append(f"{progress.current_run} of {criterion.consecutive_sessions} sessions at criterion")
    return " · ".join(parts)


def session_line(session: Session, titles: dict[str, str]) -> str:
    minutes = session.duration_minutes
    length = f"{minutes:.0f} min" if minutes is not None else "open"
    plans = ", ".join(plan_label(p, titles) for p in session.plan_ids[:3])
    return f"{session.date.isoformat()} · {length} · {session.setting or 'no setting'}" + (
        f" · {plans}" if plans else ""
    )
