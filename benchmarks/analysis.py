"""Listening-to-the-client benchmark: MIDI-in timestamp error on JACK, analysis and live-feedback cost.

Prints one JSON object. Starts its own `jackd -d dummy -r 48000 -p 128` (as the test fixture does); a
sender process plays note-ons at random frame offsets and reports JACK's time of each frame, which the
received hit times are compared with (tests/test_midi_input_sender.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_midi_input_sender import HitSender, JackTime, private_jack_server  # noqa: E402

from audio.midi_input import MidiInput, Timestamps  # noqa: E402
from audio.sync_analysis import LiveSync, Tolerance, analyse  # noqa: E402

HITS_PER_RUN = 400


def percentiles_ms(values: np.ndarray) -> dict[str, float]:
    magnitude = np.abs(values)
    return {
        "p50": round(float(np.percentile(magnitude, 50)), 4),
        "p99": round(float(np.percentile(magnitude, 99)), 4),
        "max": round(float(magnitude.max()), 4),
        "mean_signed": round(float(values.mean()), 4),
    }


@contextlib.contextmanager
def busy_python_thread() -> Iterator[None]:
    """A thread that keeps the GIL busy, like a Textual app redrawing."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


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


def main() -> None:
    server_name = f"companion-bench-sync-{os.getpid()}"
    os.environ.update(JACK_DEFAULT_SERVER=server_name, JACK_NO_START_SERVER="1")
    with private_jack_server(server_name) as server:
        midi_in = {
            "frame_accurate": midi_in_run(server, Timestamps.BEST, "frames"),
            "rtmidi_delta": midi_in_run(server, Timestamps.BACKEND, "deltas"),
        }
        with busy_python_thread():
            midi_in["frame_accurate_with_busy_app_thread"] = midi_in_run(server, Timestamps.BEST, "busy")
        clock = jack_clock_offset_ms(server)
    report = {
        "jack": {"server": "dummy, 48000 Hz, 128 frames (2.667 ms period), no realtime", "clock": clock},
        "midi_in_vs_sent_frame_times": midi_in,
        "analysis_10k_hits": analysis_time_ms(),
        "live_sync": live_per_hit_us(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
