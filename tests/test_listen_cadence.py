"""Tap tempo from MIDI: the therapist taps the client's steps on a pedal; cadence, RAS baseline, record."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_midi_input_sender import HitSender

from audio.cadence import CadenceError
from audio.midi_input import Hit, MidiInput
from companion.live.listening import CadenceCapture, LogTarget
from companion.record import Cadence, Record

PEDAL = 36


def steps(count: int, interval_s: float, start: float = 50.0) -> list[float]:
    return [start + k * interval_s for k in range(count)]


def test_the_cadence_of_steps_with_a_bounce_and_a_missed_tap():
    capture = CadenceCapture()
    taps = steps(12, 0.6)
    del taps[6]  # a missed tap
    taps.insert(3, taps[2] + 0.05)  # a bounced double tap
    for t in taps:
        capture.add_tap(t)
    measured = capture.measure()
    assert measured.steps_per_min == pytest.approx(100.0)
    assert (measured.double_taps, measured.missed_taps, measured.steps) == (1, 1, 12)
    assert capture.baseline_bpm() == 100.0


def test_too_few_taps_say_how_many_are_needed_and_show_nothing_live():
    capture = CadenceCapture()
    for t in steps(3, 0.5):
        capture.add_tap(t)
    assert capture.current() is None
    with pytest.raises(CadenceError, match="tap at least 5 steps"):
        capture.measure()


def test_only_the_pedal_counts_and_clear_starts_again():
    capture = CadenceCapture(notes=frozenset({PEDAL}))
    for k, t in enumerate(steps(10, 0.5)):
        capture.hit(Hit(t, PEDAL if k % 2 == 0 else PEDAL + 2, 90))
    assert len(capture.taps) == 5
    measured = capture.current()
    assert measured is not None and measured.steps_per_min == pytest.approx(60.0)
    capture.clear()
    assert capture.taps == ()


def test_the_measured_cadence_is_logged_to_the_session(tmp_path: Path):
    with Record.open(tmp_path, backup_every=None) as record:
        client = record.caseload.add_client("Ava")
        session = record.sessions.start_session([client.id], "in-home")
        capture = CadenceCapture()
        for t in steps(8, 0.55):
            capture.add_tap(t)
        event = capture.log(LogTarget(record, session.id))
        (stored,) = record.events.session_events(session.id, include_pending=False)
    assert stored.id == event.id and stored.client_id == client.id
    assert isinstance(stored.payload, Cadence)
    assert stored.payload.steps_per_min == pytest.approx(60 / 0.55)
    assert stored.payload.n_steps == 8


@pytest.mark.jack
def test_pedal_taps_on_jack_give_the_tempo_they_were_played_at(jack_server):
    """A JACK client taps a pedal at 84 steps/min; MidiInput timestamps each tap at its frame."""
    sender = HitSender(jack_server.name, "pedal")
    capture = CadenceCapture(notes=frozenset({PEDAL}))
    try:
        with MidiInput(sender.port_name, backend="mido.backends.rtmidi/UNIX_JACK", on_hit=capture.hit):
            time.sleep(0.3)
            start = time.perf_counter() + 0.3
            sender.play_at([(t, PEDAL, 100) for t in steps(6, 60 / 84, start)])
            deadline = time.monotonic() + 2
            while len(capture.taps) < 6 and time.monotonic() < deadline:
                time.sleep(0.02)
    finally:
        sender.close()
    assert len(capture.taps) == 6
    assert capture.measure().steps_per_min == pytest.approx(84.0, abs=0.01)
    assert capture.baseline_bpm() == 84.0
