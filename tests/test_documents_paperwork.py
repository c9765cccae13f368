"""Paperwork a supervisor and a payer accept (issue 13): signed notes and addenda, time in and out, who was
present and how, diagnoses, billing codes with modifiers and units by the 8-minute rule, and an audit trail
of codes changed after signing. Real SQLite files; the PDF is read back with pypdf."""

from __future__ import annotations

import io
import re
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from support.timp_session import EVENT_ID, START, timp_session

from companion.cli import main
from companion.documents.export import render, to_markdown
from companion.documents.paperwork import local_time
from companion.documents.report import build_report, report_pdf
from companion.documents.selection import select
from companion.documents.soap import draft_note, note_text
from companion.record import EventDraft, Record, Trial
from companion.record.attendance import attendance_summary
from companion.record.billing import BillingCode, billed_lines, parse_code, parse_codes, units_for
from companion.record.notes import FinalisedNote, valid_npi


def units(text: str, minutes: float | None) -> list[tuple[str, int]] | str:
    found = billed_lines(parse_codes(text), minutes)
    return found if isinstance(found, str) else [(line.code.code, line.units) for line in found]


def test_the_8_minute_rule_turns_timed_minutes_into_units() -> None:
    assert [units_for(m) for m in (0, 7, 8, 22, 23, 37, 38, 52, 53)] == [0, 0, 1, 1, 2, 2, 3, 3, 4]
    assert units("97112-GP", 45) == [("97112", 3)]  # one timed code: the session's time in to time out
    assert units("97112-GP", 7) == [("97112", 0)]  # under 8 minutes bills nothing
    # CMS's own examples: 33 min of 97110 and 7 of 97140-like work -> 3 units, 2 + 1 ...
    assert units("97110:33, 97530:7", 40) == [("97110", 2), ("97530", 1)]
    # ... and 24 + 23 minutes -> 3 units, the extra one to the code with more minutes left over.
    assert units("97112:24, 97110:23", 47) == [("97112", 2), ("97110", 1)]
    assert units("G0176, 92507", 50) == [("G0176", 1), ("92507", 1)]  # per session: one unit each
    assert "give each its minutes" in str(units("97110, 97530", 45))
    assert "more than the session's 30" in str(units("97110:20, 97530:20", 30))
    assert "end the session" in str(units("97110", None))


def test_codes_carry_up_to_four_modifiers_and_timed_minutes() -> None:
    assert parse_code("97530-gp-59:30") == BillingCode("97530", ("GP", "59"), 30)
    assert parse_code("H2014-HQ") == BillingCode("H2014", ("HQ",))  # HCPCS, group modifier
    assert parse_codes("97110, 97110 G0176") == (BillingCode("97110"), BillingCode("G0176"))
    with pytest.raises(ValueError, match="at most 4"):
        parse_code("97110-GP-59-KX-XE-95")
    with pytest.raises(ValueError, match="billed once a session: it takes no minutes"):
        parse_code("G0176:45")
    with pytest.raises(ValueError, match="is not a billing code"):
        parse_code("9711")


def test_a_signature_needs_a_name_a_credential_and_a_valid_npi(record: Record) -> None:
    assert valid_npi("1234567893") and not valid_npi("1234567890") and not valid_npi("12345")
    with pytest.raises(ValueError, match="name and your credential"):
        record.notes.set_therapist("Sam Lee", "")
    with pytest.raises(ValueError, match="NPI '1234567890' is not valid"):
        record.notes.set_therapist("Sam Lee", "MT-BC", "1234567890")
    assert record.notes.therapist().signature == ""
    assert (
        record.notes.set_therapist(" Sam Lee ", "MT-BC, NMT", "1234567893").signature == "Sam Lee, MT-BC, NMT"
    )


def stored_note(path: Path, session_id: int, client_id: int) -> tuple[object, ...]:
    """The note's row as SQLite holds it, every column (read with a connection of its own)."""
    with sqlite3.connect(path / "companion.db") as conn:
        row = conn.execute(
            "SELECT * FROM notes WHERE session_id = ? AND client_id = ?", (session_id, client_id)
        ).fetchone()
    return tuple(row)


def test_a_finalised_note_is_signed_and_byte_identical_after_an_addendum_and_every_later_action(
    record: Record, tmp_path: Path
) -> None:
    client_id, _, session_id = timp_session(record)
    record.notes.set_therapist("Sam Lee", "MT-BC", "1234567893")
    draft = replace(draft_note(record, session_id, client_id), subjective="Arrived cheerful.")
    signed = record.notes.save_note(replace(draft, finalised=True))
    assert signed.signed_by == "Sam Lee, MT-BC" and signed.signed_at is not None
    row, text = (
        stored_note(tmp_path, session_id, client_id),
        note_text(record.notes.note(session_id, client_id)),
    )

    addendum = record.notes.add_addendum(session_id, client_id, "Mother reported he hummed the song at home.")
    assert addendum.signed_by == "Sam Lee, MT-BC"
    with pytest.raises(FinalisedNote, match="never rewritten; add an addendum"):
        record.notes.save_note(replace(signed, plan="changed"))
    record.billing.set_cpt_codes(session_id, ["97530-GP"])  # every later action ...
    record.sessions.describe_session(session_id, present="mother", modality="telehealth video")
    record.notes.set_therapist("Sam Lee", "MT-BC, NMT")
    draft_note(record, session_id, client_id)
    render(select(record, session_id=session_id), "pdf")
    assert stored_note(tmp_path, session_id, client_id) == row  # ... leaves the signed note as it was
    assert note_text(record.notes.note(session_id, client_id)) == text
    assert [a.text for a in record.notes.addenda(session_id, client_id)] == [addendum.text]
    with pytest.raises(ValueError, match="only a finalised note takes addenda"):
        other, _, other_session = timp_session(record)
        record.notes.add_addendum(other_session, other, "too early")


def test_the_therapists_observations_survive_a_redraft_and_go_wherever_the_objective_goes(
    record: Record,
) -> None:
    client_id, objective_id, session_id = timp_session(record)
    observed = "Émile Zoë reached across midline unprompted twice; fatigued after 20 min."
    record.notes.save_note(replace(draft_note(record, session_id, client_id), observations=observed))
    record.events.log(
        session_id, EventDraft(Trial(True, "independent"), objective_id=objective_id)
    )  # new data ...
    redrafted = draft_note(record, session_id, client_id)
    assert "9/11 independent trials" in redrafted.objective  # ... the Objective is drafted again ...
    assert redrafted.observations == observed  # ... and what the therapist typed is kept as typed
    text = note_text(redrafted)
    assert (
        text.index("9/11 independent")
        < text.index(f"Therapist's observations: {observed}")
        < text.index("A:")
    )
    record.notes.save_note(redrafted)
    assert f"Therapist's observations: {observed}" in to_markdown(select(record, session_id=session_id))
    pdf = render(select(record, session_id=session_id), "pdf")
    assert "fatigued after 20 min" in " ".join(
        " ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages
    )
    deidentified = to_markdown(select(record, session_id=session_id, deidentify=True))
    assert "reached across midline" in deidentified and "Émile" not in deidentified


def test_home_practice_is_part_of_the_subjective_and_must_be_a_known_answer(record: Record) -> None:
    client_id, _, session_id = timp_session(record)
    note = replace(draft_note(record, session_id, client_id), subjective="Arrived cheerful.")
    with pytest.raises(ValueError, match="'often' is not one of practised, partly, not practised"):
        record.notes.save_note(replace(note, home_practice="often"))
    record.notes.save_note(replace(note, home_practice="partly", home_report="  drummed along twice. "))
    saved = record.notes.note(session_id, client_id)
    assert note_text(saved).startswith(
        "S: Arrived cheerful.\nHome practice since the last session: partly (drummed along twice).\nO: "
    )
    assert "Home practice since the last session: partly" in to_markdown(
        select(record, session_id=session_id)
    )


def test_codes_changed_after_signing_are_kept_in_an_audit_trail(record: Record) -> None:
    client_id, _, session_id = timp_session(record)
    record.billing.set_cpt_codes(session_id, ["97530"])  # a draft: no trail
    record.notes.set_therapist("Sam Lee", "MT-BC")
    record.notes.save_note(replace(draft_note(record, session_id, client_id), finalised=True))
    record.billing.set_cpt_codes(session_id, ["97530-GP:30", "97112-GP:10"])
    (change,) = record.billing.billing_audit(session_id)
    assert (change.before, change.after, change.changed_by) == (
        ("97530",),
        ("97530-GP:30", "97112-GP:10"),
        "Sam Lee, MT-BC",
    )
    billed = record.billing.billed(session_id)
    assert not isinstance(billed, str) and [(b.code.code, b.units) for b in billed] == [
        ("97530", 2),
        ("97112", 1),
    ]


def test_the_note_and_its_pdf_carry_every_item_a_payer_asks_for(record: Record) -> None:
    client_id, _, session_id = timp_session(record)
    record.notes.set_therapist("Sam Lee", "MT-BC", "1234567893")
    record.caseload.update_client(client_id, diagnoses=("f84.0",))
    record.sessions.describe_session(
        session_id, present="mother; OT co-treating", modality="telehealth video"
    )
    record.billing.set_cpt_codes(session_id, ["97530-GP-95"])
    record.notes.save_note(replace(draft_note(record, session_id, client_id), finalised=True))
    record.notes.add_addendum(session_id, client_id, "Late entry: the OT's observations.")
    signed = record.notes.note(session_id, client_id)
    assert signed.signed_at is not None
    time_in = local_time((START).isoformat())
    time_out = local_time((START + timedelta(minutes=40)).isoformat())[-5:]
    expected = [
        "Therapist: Sam Lee, MT-BC, NPI 1234567893.",
        f"Time in {time_in}, time out {time_out} (40 min); telehealth video, clinic.",
        "Present: mother; OT co-treating.",
        "Billing: 97530-GP-95 x 3 units (40 min).",
        "Diagnoses (ICD-10-CM): F84.0.",
        f"Electronically signed by Sam Lee, MT-BC (NPI 1234567893) on {local_time(signed.signed_at)}.",
        "signed Sam Lee, MT-BC: Late entry: the OT's observations.",
    ]
    markdown = to_markdown(select(record, session_id=session_id))
    assert all(line in markdown for line in expected), markdown
    pdf = render(select(record, session_id=session_id), "pdf")
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)
    missing = [line for line in expected if line not in text]
    assert not missing, text
    deidentified = to_markdown(select(record, session_id=session_id, deidentify=True))
    assert "Duration 40 min; telehealth video, clinic." in deidentified and "Time in" not in deidentified


def test_a_draft_note_says_so_and_an_icd10_code_is_checked(record: Record) -> None:
    client_id, _, session_id = timp_session(record)
    assert "*DRAFT: not signed.*" in to_markdown(select(record, session_id=session_id))
    with pytest.raises(ValueError, match="not an ICD-10-CM code"):
        record.caseload.update_client(client_id, diagnoses=("autism",))


def test_the_paperwork_commands(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    with Record.open(tmp_path, backup_every=None) as record:
        client_id, _, session_id = timp_session(record)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, [*data, *args])
        assert result.exit_code == 0, result.output
        return result.output

    assert "No signing therapist yet" in run("profile")
    assert "Notes are signed: Sam Lee, MT-BC (NPI 1234567893)" in run(
        "profile", "--name", "Sam Lee", "--credential", "MT-BC", "--npi", "1234567893"
    )
    assert "97530-GP: 3 units (40 min, 8-minute rule)" in run("sessions", "bill", str(session_id), "97530-gp")
    assert "telehealth audio, present: father" in run(
        "sessions", "describe", str(session_id), "--present", "father", "--modality", "telehealth audio"
    )
    assert "F84.0, R48.8" in run("clients", "diagnose", str(client_id), "F84.0", "r48.8")
    refused = runner.invoke(main, [*data, "notes", "addendum", str(session_id), str(client_id), "late"])
    assert refused.exit_code == 1 and "only a finalised note takes addenda" in refused.output


FULL_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}|\d{1,2} (?:January|February|March|April|May|June|July|August|"
    r"September|October|November|December) \d{4}"
)


def test_a_deidentified_export_keeps_only_years_and_groups_ages_over_89(record: Record) -> None:
    client_id, _, session_id = timp_session(record)
    record.caseload.update_client(client_id, population="post-stroke, age 93")
    record.notes.set_therapist("Sam Lee", "MT-BC")
    record.notes.save_note(replace(draft_note(record, session_id, client_id), finalised=True))
    record.notes.add_addendum(session_id, client_id, "Émile Zoë was seen again on 2025-01-08.")
    plain = select(record, client_id=client_id)
    assert FULL_DATE.search(to_markdown(plain))  # the therapist's own copy keeps the dates
    selection = select(record, client_id=client_id, deidentify=True)
    pdf = render(selection, "pdf")
    pdf_text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    texts = {fmt: render(selection, fmt).decode() for fmt in ("md", "csv", "json")} | {"pdf": pdf_text}
    for fmt, text in texts.items():
        without_ids = EVENT_ID.sub("<id>", text)
        assert not FULL_DATE.search(without_ids), (fmt, FULL_DATE.search(without_ids))
        assert "Émile" not in without_ids and "age 93" not in without_ids, fmt
        assert "2025" in text, fmt  # the year stays
    assert "age 90 or older" in texts["json"] and "Client E was seen again on 2025." in texts["md"]
    assert "HIPAA Safe Harbor" in texts["md"] and "HIPAA Safe Harbor" in texts["pdf"]


def test_attendance_per_client_marks_ended_sessions_and_counts_what_a_payer_counts(record: Record) -> None:
    ava, ben = record.caseload.add_client("Ava"), record.caseload.add_client("Ben")
    group = record.sessions.start_session([ava.id, ben.id], "drum circle", started_at=START)
    record.sessions.end_session(
        group.id, ended_at=START + timedelta(minutes=45)
    )  # both attended, by themselves
    day = START.date()
    record.sessions.set_attendance(ben.id, day, "late", minutes=10)  # in a group, each member's own
    later = [day + timedelta(weeks=k) for k in (1, 2, 3)]
    record.sessions.set_attendance(ava.id, later[0], "cancelled", cancelled_by="client")
    record.sessions.set_attendance(ava.id, later[1], "no-show")
    record.sessions.set_attendance(ava.id, later[2], "cancelled", cancelled_by="therapist")
    assert [(a.status, a.session_id) for a in record.sessions.attendance(ben.id)] == [("late", group.id)]
    assert record.sessions.attendance(ava.id, later[0], later[1])[0].cancelled_by == "client"
    assert attendance_summary(record.sessions.attendance(ava.id)) == (
        "1 attended, 1 cancelled by the client, 1 cancelled by the therapist, 1 no-show, of 4 scheduled"
    )
    assert attendance_summary(record.sessions.attendance(ben.id)) == "1 attended (1 late), of 1 scheduled"
    with pytest.raises(ValueError, match="says who cancelled"):
        record.sessions.set_attendance(ava.id, day, "cancelled")
    with pytest.raises(ValueError, match="not one of attended, late"):
        record.sessions.set_attendance(ava.id, day, "excused")
    with pytest.raises(ValueError, match="late / left early only"):
        record.sessions.set_attendance(ava.id, day, "attended", minutes=5)


def test_attendance_from_the_command_line_and_in_the_report(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    with Record.open(tmp_path, backup_every=None) as record:
        client_id, _, _ = timp_session(record)  # ended: attended
    runner = CliRunner()
    day = (START + timedelta(weeks=1)).date().isoformat()
    done = runner.invoke(main, [*data, "attendance", str(client_id), day, "cancelled", "--by", "facility"])
    assert done.exit_code == 0, done.output
    assert f"{day}  cancelled by the facility" in done.output
    assert "1 attended, 1 cancelled by the facility, of 2 scheduled" in done.output
    with Record.open(tmp_path, backup_every=None) as record:
        report = build_report(record, client_id, START.date(), START.date() + timedelta(weeks=2))
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(report_pdf(report))).pages)
    assert "Attendance: 1 attended, 1 cancelled by the facility, of 2 scheduled" in " ".join(text.split())
