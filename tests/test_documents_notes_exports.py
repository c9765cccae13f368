"""SOAP drafting and exports (Markdown, CSV, JSON, PDF), from a real record, including de-identification."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from pathlib import Path

import pytest
from pypdf import PdfReader
from support.timp_session import EVENT_ID, START, timp_session

from companion.documents.export import render, to_csv, to_json, to_markdown, write_private
from companion.documents.selection import select
from companion.documents.soap import draft_note, note_text
from companion.record import Count, EventDraft, Record, Tempo


def test_soap_objective_is_written_from_the_data(record: Record) -> None:
    client_id, _, session_id = timp_session(record)
    note = draft_note(record, session_id, client_id)
    assert "8/10 independent trials (80%)" in note.objective
    assert "10/10 correct (100%)" in note.objective
    assert "at 84 bpm during TIMP drum reach" in note.objective
    # the goal it serves and its status to date (one session: a baseline, not yet a direction)
    heading = "Objective 1: Taps the drum on the beat (gross motor goal; too few sessions to date):"
    assert heading in note.objective
    assert "40 min, clinic; interventions: TIMP drum reach; CPT 97530." in note.objective
    assert "1 session; percent independent from 80 to 80" in note.assessment
    typed = replace(note, subjective="Arrived cheerful.", plan="Raise tempo to 88 bpm.")
    record.notes.save_note(typed)
    redrafted = draft_note(record, session_id, client_id)
    assert redrafted.subjective == "Arrived cheerful." and redrafted.plan == "Raise tempo to 88 bpm."
    assert note_text(redrafted).startswith("S: Arrived cheerful.\nO: ")
    with pytest.raises(ValueError, match="set your name and credential first"):  # a signature needs a signer
        record.notes.save_note(replace(redrafted, objective="edited by hand", finalised=True))
    record.notes.set_therapist("Sam Lee", "MT-BC")
    record.notes.save_note(replace(redrafted, objective="edited by hand", finalised=True))
    assert draft_note(record, session_id, client_id).objective == "edited by hand"


def test_markdown_csv_json_exports(record: Record) -> None:
    _, objective_id, session_id = timp_session(record)
    selection = select(record, session_id=session_id)
    markdown = to_markdown(selection)
    assert markdown.startswith(f"# Session {session_id} - Émile Zoë - 2025-01-06")
    assert "**Objective**" in markdown and "8/10 independent trials (80%)" in markdown

    rows = list(csv.DictReader(io.StringIO(to_csv(selection))))
    assert len(rows) == 13  # one row per live event
    trials = [r for r in rows if r["kind"] == "trial"]
    assert len(trials) == 10 and trials[0]["prompt_level"] == "independent"
    assert trials[0]["objective"] == "Taps the drum on the beat" and trials[0]["client"] == "Émile Zoë"
    assert float(rows[0]["bpm"]) == 84

    data = json.loads(to_json(selection))
    (exported,) = data["sessions"]
    assert len(exported["events"]) == 13 and exported["session"]["cpt_codes"] == ["97530"]
    assert data["clients"][0]["birth_year"] == 2016
    group = next(g for g in exported["summary"] if g["objective_id"] == objective_id)
    assert group["trials"]["independent"] == 8


def test_deidentified_export_hides_name_and_birth_year(record: Record) -> None:
    client_id, _, _ = timp_session(record)
    selection = select(record, client_id=client_id, deidentify=True)
    for text in (to_markdown(selection), to_csv(selection), to_json(selection)):
        # Event ids are random UUIDs and may contain the digits 2016 by chance: look past them.
        without_ids = EVENT_ID.sub("<id>", text)
        assert "Émile" not in without_ids and "2016" not in without_ids
        assert "Client E" in text
    assert "Client E said “again!”" in to_csv(selection)


def test_pdf_export_opens_with_the_objective_lines(record: Record, tmp_path: Path) -> None:
    _, _, session_id = timp_session(record)
    path = write_private(
        tmp_path / "out" / "session.pdf", render(select(record, session_id=session_id), "pdf")
    )
    assert path.stat().st_mode & 0o777 == 0o600
    reader = PdfReader(path)
    text = " ".join(page.extract_text() for page in reader.pages)
    assert len(reader.pages) >= 1
    assert "8/10 independent trials (80%)" in text and "Émile Zoë" in text


def test_group_session_export_per_client(record: Record) -> None:
    ava, ben = record.caseload.add_client("Ava"), record.caseload.add_client("Ben")
    session = record.sessions.start_session([ava.id, ben.id], "drum circle", started_at=START)
    record.events.log_many(
        session.id,
        [
            EventDraft(Tempo(90), wall_time=START),
            EventDraft(Count("turn"), client_id=ava.id, wall_time=START),
            EventDraft(Count("turn"), client_id=ben.id, wall_time=START),
            EventDraft(Count("turn"), client_id=ben.id, wall_time=START),
        ],
    )
    only_ben = select(record, client_id=ben.id)
    events = only_ben.sessions[0].events
    assert {e.client_id for e in events} == {None, ben.id}
    whole = select(record, session_id=session.id)
    assert [n.client_id for n in whole.sessions[0].notes] == [ava.id, ben.id]
    assert "Turn: 2 (" in whole.sessions[0].notes[1].objective
