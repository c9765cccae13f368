"""Tap tempo from MIDI: the therapist taps the client's steps on a pedal; cadence, RAS baseline, record."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.hit_sender import HitSender

from audio.cadence import CadenceError
from audio.midi_hits import Hit
from audio.midi_input import MidiInput
from companion.live.cadence_taps import CadenceTaps
from companion.live.listening_record import LogTarget
from companion.record import Cadence, Record

PEDAL = 36


def steps(count: int, interval_s: float, start: float = 50.0) -> list[float]:
    return [start + k * interval_s for k in range(count)]


def test_the_cadence_of_steps_with_a_bounce_and_a_missed_tap():
    capture = CadenceTaps()
    taps = steps(12, 0.6)
    del taps[6]  # a missed tap
    taps.insert(3, taps[2] + 0.05)  # a bounced double tap
    for t in taps:
        capture.tap(t)
    measured = capture.measure()
    assert measured.steps_per_min == pytest.approx(100.0)
    assert (measured.double_taps, measured.missed_taps, measured.steps) == (1, 1, 12)
    assert capture.baseline_bpm() == 100.0


def test_too_few_taps_say_how_many_are_needed_and_show_nothing_live():
    capture = CadenceTaps()
    for t in steps(3, 0.5):
        capture.tap(t)
    assert capture.reading().cadence is None
    with pytest.raises(CadenceError, match="tap at least 5 steps"):
        capture.measure()


def test_only_the_pedal_counts_and_clear_starts_again():
    capture = CadenceTaps(notes=frozenset({PEDAL}))
    for k, t in enumerate(steps(10, 0.5)):
        capture.hit(Hit(t, PEDAL if k % 2 == 0 else PEDAL + 2, 90))
    assert len(capture.taps) == 5
    measured = capture.reading().cadence
    assert measured is not None and measured.steps_per_min == pytest.approx(60.0)
    capture.finish()
    assert capture.taps == ()


def test_a_pause_ends_a_walk_and_the_next_walk_is_measured_on_its_own():
    """One rule for the pedal and the tap key: steps over the span of one walk, never over a pause."""
    capture = CadenceTaps(notes=frozenset({PEDAL}))
    for t in steps(6, 0.5):  # a walk at 120 steps/min, then the client turns for 4 s
        capture.hit(Hit(t, PEDAL, 90))
    restarted = capture.hit(Hit(50.0 + 5 * 0.5 + 4.0, PEDAL, 90))
    assert restarted is not None and restarted.taps == 1 and restarted.cadence is None
    for t in steps(7, 0.6, start=50.0 + 5 * 0.5 + 4.0 + 0.6):  # the walk back at 100 steps/min
        capture.hit(Hit(t, PEDAL, 90))
    measured = capture.measure()
    assert measured.steps_per_min == pytest.approx(100.0) and measured.steps == 8
    assert measured.duration_s == pytest.approx(7 * 0.6)
    assert capture.hit(Hit(70.0, PEDAL + 2, 90)) is None  # not the pedal: no tap, nothing restarts
    assert capture.finish().cadence == measured and not capture.active


def test_the_measured_cadence_is_logged_to_the_session(tmp_path: Path):
    with Record.open(tmp_path, backup_every=None) as record:
        client = record.caseload.add_client("Ava")
        session = record.sessions.start_session([client.id], "in-home")
        capture = CadenceTaps()
        for t in steps(8, 0.55):
            capture.tap(t)
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
    capture = CadenceTaps(notes=frozenset({PEDAL}))
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
