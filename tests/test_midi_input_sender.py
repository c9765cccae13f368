"""The drum client the MIDI-input timing tests measure against (`support.hit_sender`): its clock and its
record of when each hit was due, on the JACK fixture's server."""

from __future__ import annotations

import time

import pytest
from support.hit_sender import HitSender, JackTime

pytestmark = pytest.mark.jack


def test_jack_time_is_a_monotonic_clock_at_perf_counters_rate(jack_server):
    """jack2 on Linux reads CLOCK_MONOTONIC_RAW (perf_counter is CLOCK_MONOTONIC): the offset between
    them is arbitrary, which is why every JACK time is converted, but they tick at the same rate."""
    import jack

    client = jack.Client("clock-check", servername=jack_server.name, no_start_server=True)
    try:
        clock = JackTime(client)
        jack_now = clock.get_time() / 1e6
        candidates = [time.clock_gettime(time.CLOCK_MONOTONIC_RAW), time.clock_gettime(time.CLOCK_MONOTONIC)]
        assert min(abs(jack_now - c) for c in candidates) < 1e-3
        first = clock.engine_minus_jack_s()
        time.sleep(0.5)
        assert clock.engine_minus_jack_s() == pytest.approx(first, abs=100e-6)
    finally:
        client.close()


def test_the_sender_knows_when_each_hit_was_due(jack_server):
    sender = HitSender(jack_server.name, "sender-check")
    try:
        before = time.perf_counter()
        due = sender.play(20, spacing_s=0.01)
        after = time.perf_counter()
    finally:
        sender.close()
    assert sorted(due) == list(range(20))
    times = [due[i] for i in range(20)]
    assert times == sorted(times)
    assert before - 0.05 < times[0] and times[-1] < after + 0.05  # JACK's frame clock is smoothed
