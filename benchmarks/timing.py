"""Timing benchmark of the tempo engine on a private dummy JACK server; prints one JSON document.

What it measures, in three conditions (idle, a Python thread burning CPU, a Textual app redrawing in the
same process), for our engine and, as the comparison, a naive `time.sleep` metronome:
- audio onset error: recorded onsets vs the tempo map's exact sample positions (samples, max);
- MIDI send jitter: send-call time minus deadline (ms p50/p99/max);
- MIDI interval error as recorded by a second JACK client (ms p50/p99/max; JACK delivers MIDI at period
  starts, so one period, 2.67 ms at 48 kHz/128, is the floor of this figure);
- drift after N beats: last recorded beat's error minus the first's (ms).

Run: `.venv/bin/python benchmarks/timing.py [--seconds 10]` (or `make bench`).
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import itertools
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from figures import busy_python_thread, percentiles  # noqa: E402
from jackd import RecordedTake, RecorderProcess, dummy_jack, find_ports  # noqa: E402

from audio.engine import AudioConfig, Metronome, MidiConfig  # noqa: E402
from audio.render import sample_at  # noqa: E402
from audio.sounds import Sound, Voice  # noqa: E402
from audio.tempo import Level, TempoMap, TempoSettings  # noqa: E402

JACK_MIDI = "mido.backends.rtmidi/UNIX_JACK"
Load = Callable[[], contextlib.AbstractContextManager[Any]]
RATE = 48_000
BPM = 125
SUBDIVISION = 4
"""8.3 clicks a second, each 0.12 s = 45 JACK periods apart: JACK's period quantisation of MIDI cancels
out of the recorded intervals, so what remains is the engine's own error."""





def recorded_midi_figures(rec: RecordedTake, scheduled: list[float]) -> dict[str, Any]:
    """Interval error and drift of the recorded note-ons against their scheduled engine-clock times."""
    frames = [frame for frame, _, _ in rec.note_ons()]
    n = min(len(frames), len(scheduled))
    heard = np.array([rec.to_perf(f) for f in frames[:n]])
    wanted = np.array(scheduled[:n])
    errors = heard - wanted
    return {
        "recorded_interval_error_ms": percentiles(np.diff(heard) - np.diff(wanted), 1000),
        "drift_ms": round(float(errors[-1] - errors[0]) * 1000, 4) if n else None,
        "beats": n,
        "jack_xruns": rec.xruns,
    }


def engine_midi(seconds: float, load: Load) -> dict[str, Any]:
    settings = TempoSettings(bpm=BPM, subdivision=SUBDIVISION)
    metronome = Metronome(settings, midi=MidiConfig(virtual="bench", backend=JACK_MIDI))
    assert metronome.open() == []
    recorder = RecorderProcess("bench-recorder", seconds + 5, midi="Companion:bench")
    with load():
        origin = metronome.start()
        scheduler = metronome._scheduler
        time.sleep(origin - time.perf_counter() + seconds)
    jitter = scheduler.jitter.recent() if scheduler is not None else np.zeros(0)
    realtime = bool(scheduler and scheduler.realtime)
    tempo = metronome.tempo_map
    metronome.stop()
    time.sleep(0.05)
    rec = recorder.stop()
    metronome.close()
    assert tempo is not None
    clicks = itertools.islice(tempo.clicks(0), 100_000)
    scheduled = [
        origin + float(c.time_s) for c in itertools.takewhile(lambda c: c.time_s < seconds + 1, clicks)
    ]
    # jitter holds note-ons and note-offs; both are sends at deadlines.
    return {
        "send_jitter_ms": percentiles(jitter, 1000),
        "realtime_thread": realtime,
        **recorded_midi_figures(rec, scheduled),
    }


def naive_midi(seconds: float, load: Load) -> dict[str, Any]:
    """What a straightforward metronome does: send, then time.sleep(interval), in a plain thread."""
    import mido

    port = mido.Backend(JACK_MIDI).open_output("naive", virtual=True, client_name="Naive")
    recorder = RecorderProcess("naive-recorder", seconds + 5, midi="Naive:naive")
    interval = 60 / BPM / SUBDIVISION
    note_on = mido.Message("note_on", channel=9, note=76, velocity=100)
    note_off = mido.Message("note_off", channel=9, note=76, velocity=0)
    lateness: list[float] = []
    count = int(seconds / interval)
    with load():
        start = time.perf_counter() + 0.1
        time.sleep(0.1)
        for k in range(count):
            lateness.append(time.perf_counter() - (start + k * interval))
            port.send(note_on)
            port.send(note_off)
            time.sleep(interval)
    time.sleep(0.05)
    rec = recorder.stop()
    port.close()
    scheduled = [start + k * interval for k in range(count)]
    return {"send_jitter_ms": percentiles(np.diff(lateness), 1000), **recorded_midi_figures(rec, scheduled)}


def engine_audio(seconds: float, load: Load) -> dict[str, Any]:
    settings = TempoSettings(bpm=BPM, subdivision=SUBDIVISION)
    # Short sounds only: a 0.12 s cowbell would run into the next click and hide its onset.
    voices = {level: Voice(Sound.SOFT_CLICK, 0.8) for level in (Level.ACCENT, Level.BEAT, Level.SUB)}
    metronome = Metronome(settings, audio=AudioConfig(voices=voices))
    assert metronome.open() == []
    recorder = RecorderProcess(
        "bench-audio", seconds + 5, audio=find_ports("PortAudio", is_audio=True, is_output=True)[0]
    )
    with load():
        origin = metronome.start()
        time.sleep(origin - time.perf_counter() + seconds)
    tempo, status = metronome.tempo_map, metronome.status()
    metronome.stop()
    rec = recorder.stop()
    metronome.close()
    assert tempo is not None
    onsets = rec.audio_onsets(gap=100)
    expected = np.array(
        [sample_at(c.time_s, RATE) for c in itertools.islice(tempo.clicks(0), 2 * len(onsets))]
    )
    # Anchor on the first onset; each onset is compared with the nearest expected click, so a click lost
    # in an xrun counts as missing instead of shifting every later comparison.
    relative = np.array(onsets) - onsets[0] + expected[0]
    nearest = expected[np.clip(np.searchsorted(expected, relative), 0, len(expected) - 1)]
    errors = np.minimum(
        np.abs(relative - nearest),
        np.abs(relative - expected[np.clip(np.searchsorted(expected, relative) - 1, 0, None)]),
    )
    span = expected[(expected >= expected[0]) & (expected <= relative[-1])]
    return {
        "onset_error_samples_max": int(errors.max()),
        "onsets": len(onsets),
        "missing_clicks": int(len(span) - len(onsets)),
        "engine_xruns": status.xruns,
        "jack_xruns": rec.xruns,
    }


def with_busy_textual_app(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run `work` in a thread while a Textual app redraws a screenful of changing text 60 times a second."""
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    result: dict[str, Any] = {}
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz      "))

    class Busy(App[None]):
        def compose(self) -> ComposeResult:
            yield Static(id="text")

        def on_mount(self) -> None:
            self.frames = 0
            self.set_interval(1 / 60, self.redraw)
            self.run_worker(self.measure, thread=True)

        def redraw(self) -> None:
            self.frames += 1
            self.query_one("#text", Static).update("".join(rng.choice(letters, 4_000)))

        def measure(self) -> None:
            time.sleep(1.0)  # steady state: measure the redrawing, not the app's start-up
            result.update(work())
            result["textual_frames_drawn"] = self.frames
            self.call_from_thread(self.exit)

    Busy().run(headless=True, size=(160, 50))
    return result


def tempo_map_drift() -> dict[str, Any]:
    """Exact map vs adding float intervals, after one hour of beats at an awkward tempo (97 bpm)."""
    tempo = TempoMap(TempoSettings(bpm=97))
    beats = 97 * 60
    added = 0.0
    for _ in range(beats):
        added += 60 / 97
    return {
        "beats": beats,
        "exact_map_error_s": float(tempo.time_at(beats) - Fraction(3600)),
        "float_accumulation_error_s": added - 3600,
        "beat_7200_at_120_bpm_s": float(TempoMap(TempoSettings(bpm=120)).time_at(7200)),
    }


def scenario(seconds: float, load: Load = contextlib.nullcontext) -> dict[str, Any]:
    """Each run sets up its JACK clients unloaded, measures under `load`, and tears down unloaded
    (closing a JACK client while a thread hogs the GIL can wait on JACK's own timeouts)."""
    results = {}
    for name, run in (
        ("engine_audio", engine_audio),
        ("engine_midi", engine_midi),
        ("naive_sleep_midi", naive_midi),
    ):
        print(f"timing: {name}", file=sys.stderr, flush=True)
        results[name] = run(seconds, load)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measured run")
    args = parser.parse_args()
    faulthandler.dump_traceback_later(60 + 40 * args.seconds, exit=True)  # a hang must not hang CI
    with dummy_jack(name=f"companion-bench-{os.getpid()}") as server:
        report: dict[str, Any] = {
            "machine": {
                "cpus": os.cpu_count(),
                "load_average_1min": round(os.getloadavg()[0], 2),
                "python": platform.python_version(),
                "jack": {"samplerate": server.samplerate, "period": server.blocksize, "driver": "dummy"},
            },
            "settings": {"bpm": BPM, "subdivision": SUBDIVISION, "seconds_per_run": args.seconds},
            "tempo_map": tempo_map_drift(),
        }
        report["idle"] = scenario(args.seconds)
        report["cpu_burning_thread"] = scenario(args.seconds, busy_python_thread)
        report["textual_app_redrawing"] = with_busy_textual_app(lambda: scenario(args.seconds))
        report["machine"]["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
