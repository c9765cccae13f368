"""A finished TIMP session in a real record, with a client whose name must never leak into de-identified
documents: shared by the note, export and paperwork tests."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from companion.record import Count, EventDraft, MasteryCriterion, Note, Record, Tempo, Trial

START = datetime(2025, 1, 6, 16, 0, tzinfo=UTC)
EVENT_ID = re.compile(r"[0-9a-f]{32}")


def timp_session(record: Record) -> tuple[int, int, int]:
    """A TIMP session: tempo 84 bpm, 8/10 independent trials, a quote naming the client."""
    client = record.caseload.add_client("Émile Zoë", birth_year=2016, pseudonym="Client E")
    goal = record.caseload.add_goal(client.id, "gross motor", "Improve bilateral coordination")
    objective = record.caseload.add_objective(
        goal.id, "Taps the drum on the beat", MasteryCriterion("percent_independent", 80, 3)
    )
    session = record.sessions.start_session([client.id], "clinic", started_at=START, cpt_codes=["97530"])
    levels = ["independent"] * 8 + ["verbal", "model"]
    drafts = [EventDraft(Tempo(84, "4/4"), plan_id="timp-drum-reach", wall_time=START)]
    drafts += [
        EventDraft(Trial(True, level), objective_id=objective.id, plan_id="timp-drum-reach", wall_time=START)
        for level in levels
    ]
    drafts += [
        EventDraft(Count("initiation"), wall_time=START + timedelta(minutes=5)),
        EventDraft(Note("Émile Zoë said “again!” → smiled"), wall_time=START + timedelta(minutes=6)),
    ]
    record.events.log_many(session.id, drafts)
    record.sessions.end_session(session.id, ended_at=START + timedelta(minutes=40))
    return client.id, objective.id, session.id
