"""Listening-to-the-client benchmark: MIDI-in timestamp error on JACK, analysis and live-feedback cost.

Prints one JSON object. Starts its own `jackd -d dummy -r 48000 -p 128` with tests/support/jackd.py (the test
fixture's code); a sender process plays note-ons at random frame offsets and reports JACK's time of each
frame, which the received hit times are compared with (tests/support/hit_sender.py).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from figures import busy_python_thread, percentiles  # noqa: E402
from support.hit_sender import HitSender, JackTime  # noqa: E402
from support.jackd import dummy_jack  # noqa: E402
from support.listening_takes import expected_figures, known_offsets, play_take  # noqa: E402

from audio.live_sync import LiveSync  # noqa: E402
from audio.midi_input import MidiInput, Timestamps  # noqa: E402
from audio.sync_analysis import Tolerance, analyse  # noqa: E402
from companion.live.listening_record import LogTarget  # noqa: E402
from companion.record import Record, Sync  # noqa: E402

HITS_PER_RUN = 400
LISTENING_TAKES = 3
BEATS_PER_TAKE = 24


def percentiles_ms(values: np.ndarray) -> dict[str, float]:
    """Errors already in ms: their magnitudes' percentiles, and the signed mean (a constant offset)."""
    return {**percentiles(values), "mean_signed": round(float(values.mean()), 4)}


def midi_in_run(server: str, mode: Timestamps, label: str) -> dict[str, object]:
    sender = HitSender(server, f"bench-{label}")
    try:
        with MidiInput(sender.port_name, backend="mido.backends.rtmidi/UNIX_JACK", timestamps=mode) as midi:
            time.sleep(0.3)
            due = sender.play(HITS_PER_RUN)
            hits = []
            while len(hits) < len(due) and (hit := midi.get(timeout=1.0)) is not None:
                hits.append(hit)
    finally:
        sender.close()
    error = np.array([(h.time_s - due[HitSender.hit_id(h.note, h.velocity)]) * 1000 for h in hits])
    return {
        "timing": midi.timing,
        "sent": len(due),
        "received": len(hits),
        "error_ms": percentiles_ms(error),
        "interval_error_ms": percentiles_ms(np.diff(error)),
    }


def jack_clock_offset_ms(server: str) -> dict[str, float]:
    import jack

    client = jack.Client("bench-clock", servername=server, no_start_server=True)
    try:
        clock = JackTime(client)
        jack_s = clock.get_time() / 1e6
        raw, mono = time.clock_gettime(time.CLOCK_MONOTONIC_RAW), time.clock_gettime(time.CLOCK_MONOTONIC)
        return {
            "perf_counter_minus_jack_ms": round(clock.engine_minus_jack_s() * 1000, 3),
            "jack_minus_monotonic_raw_ms": round((jack_s - raw) * 1000, 3),
            "jack_minus_monotonic_ms": round((jack_s - mono) * 1000, 3),
        }
    finally:
        client.close()


def synthetic_session(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n beats at 100 bpm; hits 30 ms early +- 15 ms, 5 % missed, 5 % doubled."""
    rng = np.random.default_rng(seed)
    beats = 1000.0 + 0.6 * np.arange(n)
    hits = beats - 0.030 + rng.normal(0, 0.015, n)
    hits = hits[rng.random(n) > 0.05]
    doubles = hits[rng.random(hits.size) < 0.05] + 0.08
    return beats, np.sort(np.concatenate((hits, doubles)))


def analysis_time_ms(n: int = 10_000, repeats: int = 7) -> dict[str, float]:
    beats, hits = synthetic_session(n)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        analyse(beats, hits, Tolerance(ms=50))
        times.append((time.perf_counter() - start) * 1000)
    return {"beats": n, "hits": int(hits.size), "median_ms": round(float(np.median(times)), 3)}


def live_per_hit_us(n: int = 10_000) -> dict[str, float]:
    beats, hits = synthetic_session(n)
    live = LiveSync(block_beats=16)
    live.add_beats(beats)
    costs, block_costs = [], []
    for hit in hits:
        start = time.perf_counter()
        live.add_hit(float(hit))
        middle = time.perf_counter()
        closed = live.close_until(float(hit))
        end = time.perf_counter()
        costs.append(middle - start)
        if closed.blocks:
            block_costs.append(end - middle)
    us = np.array(costs) * 1e6
    return {
        "hits": int(hits.size),
        "add_hit_median_us": round(float(np.median(us)), 2),
        "add_hit_p99_us": round(float(np.percentile(us, 99)), 2),
        "block_close_median_us": round(float(np.median(block_costs)) * 1e6, 1),
    }


def listening_end_to_end(server: str) -> dict[str, object]:
    """The end-to-end test's take, longer and repeated: a JACK drum client plays known offsets against
    the running metronome; SyncSession logs each block to a SQLite record. Errors are against the known
    offsets (everything included: the drum's frame quantisation, MIDI input, clock conversion)."""
    offsets, extras = known_offsets(BEATS_PER_TAKE)
    want = expected_figures(offsets, extras)
    errors, mean_errors, sd_errors, pct_errors, counts_ok, xruns = [], [], [], [], 0, 0
    with tempfile.TemporaryDirectory() as folder, Record.open(Path(folder), backup_every=None) as record:
        session = record.sessions.start_session([record.caseload.add_client("Bench").id])
        for take_number in range(LISTENING_TAKES):
            target = LogTarget(record, session.id)
            take = play_take(server, target, offsets, extras, label=f"bench{take_number}")
            xruns += take.xruns
            errors += take.offset_error_ms
            event = take.reports[-1].event if take.reports else None
            if event is None or not isinstance(event.payload, Sync):
                continue
            logged = event.payload
            mean_errors.append(logged.mean_asynchrony_ms - want.mean_ms)
            sd_errors.append(logged.sd_ms - want.sd_ms)
            pct_errors.append(logged.pct_within - want.pct_within)
            counts_ok += (logged.missed, logged.extra) == (want.missed, want.extra)
    return {
        "takes": LISTENING_TAKES,
        "beats_per_take": BEATS_PER_TAKE,
        "notes_per_take": len(offsets) - offsets.count(None) + len(extras),
        "jack_xruns": xruns,
        "hit_time_error_vs_known_offsets_ms": percentiles_ms(np.array(errors)),
        "logged_mean_asynchrony_error_ms_max": round(float(np.max(np.abs(mean_errors))), 4),
        "logged_sd_error_ms_max": round(float(np.max(np.abs(sd_errors))), 4),
        "logged_pct_within_error_max": round(float(np.max(np.abs(pct_errors))), 4),
        "takes_with_exact_missed_and_extra": counts_ok,
    }


def main() -> None:
    with dummy_jack(name=f"companion-bench-sync-{os.getpid()}") as jack_server:
        server = jack_server.name
        realtime = "realtime" if jack_server.realtime else "no realtime"
        midi_in = {
            "frame_accurate": midi_in_run(server, Timestamps.BEST, "frames"),
            "rtmidi_delta": midi_in_run(server, Timestamps.BACKEND, "deltas"),
        }
        with busy_python_thread():
            midi_in["frame_accurate_with_busy_app_thread"] = midi_in_run(server, Timestamps.BEST, "busy")
        listening = listening_end_to_end(server)
        clock = jack_clock_offset_ms(server)
    report = {
        "jack": {"server": f"dummy, 48000 Hz, 128 frames (2.667 ms period), {realtime}", "clock": clock},
        "midi_in_vs_sent_frame_times": midi_in,
        "listening_end_to_end": listening,
        "analysis_10k_hits": analysis_time_ms(),
        "live_sync": live_per_hit_us(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
