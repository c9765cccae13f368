"""The JACK fixture and the witness itself: every JACK-based test relies on these facts holding.

The witness's frame clock and its verdict on a take (`witness.Witness`) are checked on synthetic records,
where the truth is known."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
from support import host_steal
from support.witness import LATE_S, XRUN_GUARD_S, RecordedTake

pytestmark = pytest.mark.jack


def test_server_runs_at_the_requested_rate_and_period(jack_server):
    import jack

    client = jack.Client("fixture-check", servername=jack_server.name, no_start_server=True)
    try:
        assert client.samplerate == jack_server.samplerate == 48_000
        assert client.blocksize == jack_server.blocksize == 128
        names = [p.name for p in client.get_ports(is_audio=True, is_input=True, is_physical=True)]
        assert names == ["system:playback_1", "system:playback_2"]
    finally:
        client.close()


def test_portaudio_and_rtmidi_reach_the_test_server(jack_server):
    import rtmidi
    import sounddevice as sd

    hostapis = [api["name"] for api in sd.query_hostapis()]
    assert "JACK Audio Connection Kit" in hostapis
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="fixture-midi")
    try:
        out.open_virtual_port("probe")
        import jack

        client = jack.Client("fixture-check-midi", servername=jack_server.name, no_start_server=True)
        try:
            assert any(p.name.endswith(":probe") for p in client.get_ports(is_midi=True))
        finally:
            client.close()
    finally:
        out.close_port()
        out.delete()  # closes its JACK client now: a client left running is load on every later take


def synthetic_take(lateness_s: np.ndarray, midi_cycles: list[int], start: int = 7_000_000) -> RecordedTake:
    """A witness's record of cycles whose callbacks ran `lateness_s` after their start, on a frame clock
    running 250 ppm fast (as the dummy driver's does), with a note-on at the start of `midi_cycles`."""
    frames = start + 128 * np.arange(len(lateness_s))
    perfs = 1234.5 + frames / 48_000 * (1 - 250e-6) + lateness_s
    return RecordedTake(
        audio=np.zeros(0, dtype=np.float32),
        first_frame=int(frames[0]),
        midi=[(int(frames[k]), bytes([0x99, 76, 120])) for k in midi_cycles],
        cycles=np.column_stack([frames, perfs]),
        samplerate=48_000,
        xruns=0,
        gaps=0,
    )


def test_the_frame_clock_follows_the_earliest_callbacks_whatever_a_stretch_of_late_ones_does():
    """Callbacks run late, never early: a long stretch of late ones (a busy machine for 0.4 s of a 2.7 s
    take) must not move the clock the witness maps frames with."""
    rng = np.random.default_rng(3)
    lateness = rng.uniform(0, 50e-6, 1000)
    lateness[300:450] += rng.uniform(0.5e-3, 3e-3, 150)
    take = synthetic_take(lateness, [])
    frames = take.cycles[:, 0]
    truth = take.cycles[:, 1] - lateness
    error = np.array([take.to_perf(int(f)) for f in frames]) - truth
    assert np.max(np.abs(error)) < 50e-6
    assert take.lateness().min() >= 0 and np.max(np.abs(take.lateness() - lateness)) < 50e-6


def test_a_take_is_clean_only_without_midi_in_a_late_cycle_xruns_or_missed_cycles():
    lateness = np.full(400, 20e-6)
    lateness[200] = 2.2e-3  # this cycle's MIDI could have been sent up to 2.2 ms after its start
    harmless = synthetic_take(lateness, [10, 100, 300])
    assert harmless.clean  # a late cycle that carried nothing is harmless
    assert harmless.untrusted() == []  # so the clean take is judged whole, the late cycle included
    late = synthetic_take(lateness, [10, 200, 300])
    assert not late.clean and late.trouble() == "1 MIDI events in cycles up to 2.2 ms late"
    [(start, end)] = late.untrusted()
    assert (start, end) == (int(late.cycles[200, 0]), int(late.cycles[201, 0]))
    lateness[200] = LATE_S * 0.9
    assert synthetic_take(lateness, [10, 200, 300]).clean
    xruns = synthetic_take(lateness, [10])
    xruns.xruns, xruns.gaps = 2, 1
    xruns.server_said = ["JackEngine::XRun: client = Companion was not finished, state = Triggered"]
    assert not xruns.clean
    assert (
        xruns.trouble()
        == "2 JACK xruns, 1 cycles the recorder missed, jackd: not finished in time: Companion x1"
    )


def test_after_an_xrun_the_clock_restarts_and_only_the_stretch_around_it_is_untrusted():
    """The dummy driver restarts its timeline at an xrun (here 7 ms later than the old one), and the
    recorder's callback notices it a few cycles on: frames each side map to time on their own clock, and
    only a guard either side of the notice is untrusted."""
    lateness = np.full(2000, 20e-6)
    take = synthetic_take(lateness, [])
    restart = 1000
    take.cycles[restart:, 1] += 7e-3
    take.xrun_frames = [int(take.cycles[restart + 3, 0])]
    take.xruns = 1
    truth = take.cycles[:, 1] - lateness
    error = np.array([take.to_perf(int(f)) for f in take.cycles[:, 0]]) - truth
    assert np.max(np.abs(np.delete(error, range(restart, restart + 3)))) < 50e-6
    frame = take.cycles[:, 0].astype(int)
    guard = round(XRUN_GUARD_S * 48_000)
    assert take.trusted(frame[10], frame[restart + 3] - guard - 1)
    assert not take.trusted(frame[10], frame[restart])  # reaches into the guard
    assert take.trusted(frame[restart + 3] + guard, frame[-1])
    assert not take.trusted(frame[0] - 1, frame[10])  # before the witness listened


def test_only_frames_whose_whole_neighbourhood_was_seen_cleanly_are_trusted_near():
    take = synthetic_take(np.full(2000, 20e-6), [])
    frame = take.cycles[:, 0].astype(int)
    take.xrun_frames, take.xruns = [int(frame[1000])], 1
    guard, near = round(XRUN_GUARD_S * 48_000), 960
    clicks = [int(frame[k]) for k in (100, 1000, 1999)] + [
        frame[1000] - guard - near - 1,
        frame[1000] + guard + near,
    ]
    assert take.trusted_near(clicks, near) == [
        clicks[0],
        clicks[3],
        clicks[4],
    ]  # not in the guard, not at the end
    assert take.trusted_near([clicks[3] + 1, clicks[4] - 1], near) == []


def stolen(per_read: list[float]) -> list[float]:
    """A steal counter (seconds since boot) that grows by these amounts from read to read."""
    return [float(total) for total in itertools.accumulate([100.0, *per_read])]


def test_a_retake_waits_until_the_host_has_been_quiet_for_consecutive_windows(monkeypatch):
    tick = 1 / os.sysconf("SC_CLK_TCK")
    reads = iter(stolen([0.3, 0.2, 0.0, 0.5, tick, 0.0, 0.4]))
    monkeypatch.setattr(host_steal, "steal_seconds", lambda: next(reads))
    monkeypatch.setattr(host_steal, "QUIET_WINDOW_S", 0.001)
    host_steal.wait_until_quiet(max_wait=10)
    assert next(reads) == pytest.approx(101.0 + tick + 0.4)  # stopped after two quiet windows in a row


def test_a_host_that_is_never_quiet_delays_a_retake_only_so_long(monkeypatch):
    monkeypatch.setattr(host_steal, "steal_seconds", iter(stolen([0.5] * 10_000)).__next__)
    monkeypatch.setattr(host_steal, "QUIET_WINDOW_S", 0.01)
    assert 0.2 <= host_steal.wait_until_quiet(max_wait=0.2) < 1.0


def test_without_a_steal_count_a_retake_waits_one_window(monkeypatch):
    monkeypatch.setattr(host_steal, "steal_seconds", lambda: None)
    monkeypatch.setattr(host_steal, "QUIET_WINDOW_S", 0.05)
    assert 0.05 <= host_steal.wait_until_quiet(max_wait=10) < 1.0


def test_cycles_the_recorder_missed_and_late_cycles_carrying_midi_are_untrusted_and_nothing_else():
    lateness = np.full(1510, 20e-6)
    lateness[1200] = 2e-3
    lateness[1300] = 2e-3  # late too, but carrying nothing: harmless
    take = synthetic_take(lateness, [1200])
    take.cycles = np.delete(take.cycles, range(500, 510), axis=0)  # ten cycles the recorder never ran
    frame = take.cycles[:, 0].astype(int)
    guard = round(XRUN_GUARD_S * 48_000)
    assert take.untrusted() == [
        (int(frame[499]) + 128 - guard, int(frame[500]) + guard),
        (int(frame[1190]), int(frame[1190]) + 128),  # the late cycle (index 1200 before the gap)
    ]
    assert not take.trusted(frame[400], frame[600])
    assert take.trusted(frame[600], frame[1189])
    assert not take.trusted(frame[1100], frame[1190])
    assert take.trusted(frame[1191], frame[-1])  # the empty late cycle (1290 after the gap) included
