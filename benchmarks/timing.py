"""Timing benchmark of the tempo engine on a private dummy JACK server; prints one JSON document.

Engines (report[load][engine] = {"audio": ..., "midi": ..., "witness": ...}):
- `engine_process`: `RemoteMetronome`, the Metronome in its own realtime process (what the app plays with);
- `in_process`: `Metronome` in this process, sharing its interpreter with the load (the engine of before);
- `naive_sleep`: the comparison, `send(); time.sleep(interval)` in a plain thread (MIDI only).

Loads, each on only while a run measures (JACK clients are set up and closed unloaded: closing one while a
thread hogs the GIL can wait on JACK's own timeouts):
- `idle`; `cpu_burning_thread` (a Python thread in this process that never sleeps);
- `cpu_burning_process` (one other process spinning a core); `stress_all_cores` (one per core, as
  `stress --cpu N`);
- `textual_app_redrawing`: a Textual app in this process (as Companion runs) redrawing a screenful of
  changing text 60 times a second; the runs happen in one of its worker threads.

Each Metronome run plays audio and MIDI together, as the app does, and a witness (`RecorderProcess`, a
JACK client in its own process) records both:
- audio: onsets vs the tempo map's exact sample positions (samples, max), missing clicks, the engine's
  xruns while measuring (and from opening to start, before it);
- MIDI: send jitter, send-call time minus deadline from `timings()` (ms p50/p99/max; the naive
  metronome has no deadlines, so its jitter is each interval's error); recorded interval error and drift
  (ms). The engines place MIDI on the audio clock (the sound card's, here JACK's), so their note-ons are
  compared with the clicks' sample positions in JACK frames; the naive metronome's with its perf_counter
  schedule. JACK delivers MIDI at period starts (2.67 ms at 48 kHz/128): a click every 0.12 s is exactly
  45 periods, so that quantisation cancels out of intervals while the phase holds, and drift is the
  error's least-squares trend over the run (see `drift` for its resolution);
- whether the scheduler thread was realtime, and garbage-collection pauses in the process keeping time
  (the engine process collects between deadlines itself; here, automatic collections in any thread).

`targets` says which of the engine's targets each Metronome engine meets.

Run: `.venv/bin/python benchmarks/timing.py [--seconds 10] [--latency high]` (or `make bench`); restrict
it with `--only ENGINE...` and `--loads LOAD...`, e.g. the one-hour drift run:
`.venv/bin/python benchmarks/timing.py --seconds 3600 --only engine_process --loads idle`.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import gc
import itertools
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from figures import busy_python_thread, percentiles, spinning_processes  # noqa: E402
from support.jackd import dummy_jack, find_ports  # noqa: E402
from support.recorder import RecorderProcess  # noqa: E402
from support.witness import RecordedTake  # noqa: E402

from audio.audio_output import Latency, check_latency  # noqa: E402
from audio.engine import Metronome  # noqa: E402
from audio.engine_client import RemoteMetronome  # noqa: E402
from audio.engine_config import AudioConfig, MidiConfig  # noqa: E402
from audio.engine_process import EngineProcess  # noqa: E402
from audio.render import sample_at  # noqa: E402
from audio.sounds import Sound, Voice  # noqa: E402
from audio.tempo import Level, TempoSettings  # noqa: E402
from audio.tempo_map import TempoMap  # noqa: E402

JACK_MIDI = "mido.backends.rtmidi/UNIX_JACK"
BPM = 125
SUBDIVISION = 4
"""8.3 clicks a second, each 0.12 s = 45 JACK periods apart: JACK's period quantisation of MIDI cancels
out of the recorded intervals, so what remains is the engine's own error."""
VIRTUAL = "bench"
RECORD_MARGIN_S = 5.0
"""The witness records this much longer than a run: set-up, lead-in and stop happen while it records."""
# Short sounds only: a 0.12 s cowbell would run into the next click and hide its onset.
VOICES = {level: Voice(Sound.SOFT_CLICK, 0.8) for level in (Level.ACCENT, Level.BEAT, Level.SUB)}

Report = dict[str, Any]
Load = Callable[[], contextlib.AbstractContextManager[dict[str, Any] | None]]
"""Switched on for the measured seconds of one run; yields what it has to say about itself, if anything
(filled in when it ends)."""


@dataclass(frozen=True)
class Plan:
    """What every run shares: how long it measures, the audio buffer asked for, and the audio device
    (None: PortAudio's default, the JACK host API here; "jack": straight into JACK, `audio.jack_audio`)."""

    seconds: float
    latency: Latency
    device: str | None = None

    @property
    def audio_port(self) -> str:
        """The engine's audio port in the JACK graph, for the witness."""
        return "Companion audio:out_0" if self.device == "jack" else "PortAudio"


Engine = Callable[[Plan, Load], Report]
Measure = Callable[[Load], dict[str, Report]]
"""Runs every chosen engine under one load: report[load]."""


# --- figures ---------------------------------------------------------------------------------------------


def audio_figures(rec: RecordedTake, tempo: TempoMap) -> Report:
    """Onset error of the recorded clicks against the tempo map's exact sample positions.

    Anchored on the first onset; each onset is compared with the nearest expected click, so a click lost
    in an xrun counts as missing instead of shifting every later comparison."""
    onsets = np.array(rec.audio_onsets(gap=100))
    if onsets.size == 0:
        return {"onset_error_samples_max": None, "onsets": 0, "missing_clicks": None}
    clicks = itertools.islice(tempo.clicks(), 2 * onsets.size)
    expected = np.array([sample_at(c.time_s, rec.samplerate) for c in clicks])
    relative = onsets - onsets[0] + expected[0]
    after = np.clip(np.searchsorted(expected, relative), 1, expected.size - 1)
    errors = np.minimum(np.abs(relative - expected[after - 1]), np.abs(relative - expected[after]))
    span = np.count_nonzero((expected >= expected[0]) & (expected <= relative[-1]))
    return {
        "onset_error_samples_max": int(errors.max()),
        "onsets": int(onsets.size),
        "missing_clicks": int(span - onsets.size),
    }


def drift(wanted: np.ndarray, errors: np.ndarray) -> float | None:
    """How far the error moves over the run: its least-squares trend, times the run's length.

    Why a trend and not the last error minus the first: either of those may land a JACK period late,
    which would read as a whole period (2.67 ms) of drift. A fit weighs every note-on: one a period late
    moves it by about 6 periods / note-ons (0.2 ms in a 10 s run, 0.0005 ms in an hour), and note-ons
    flipping between two periods dither it finer than a period."""
    if errors.size < 3:
        return None
    slope = np.polyfit(wanted, errors, 1)[0]
    return float(slope * (wanted[-1] - wanted[0]))


def recorded_midi_figures(
    heard_s: np.ndarray, wanted_s: np.ndarray, trusted: np.ndarray | None = None
) -> Report:
    """Interval error and drift of recorded note-ons against when they were meant to sound, on one clock.

    Each note-on heard is matched with the nearest click meant (anchored on the first), so a note-on lost
    in an xrun counts as missing instead of shifting every later comparison; a constant offset between
    the two clocks cancels out of both figures. Only note-ons the witness saw cleanly (`trusted`, see
    `witness.Witness.trusted`) are judged: around an xrun the dummy driver restarts its timeline, so a
    frame there does not say when a note sounded."""
    if heard_s.size == 0 or wanted_s.size == 0:
        return {"recorded_interval_error_ms": None, "drift_ms": None, "drift_over_s": None, "beats_heard": 0}
    relative = heard_s - heard_s[0] + wanted_s[0]
    after = np.clip(np.searchsorted(wanted_s, relative), 1, max(1, wanted_s.size - 1))
    before = after - 1
    nearest = np.where(
        np.abs(relative - wanted_s[before]) <= np.abs(relative - wanted_s[after]), before, after
    )
    keep = np.ones(heard_s.size, dtype=bool) if trusted is None else trusted
    errors, wanted = (heard_s - wanted_s[nearest])[keep], wanted_s[nearest][keep]
    moved = drift(wanted, errors)
    return {
        "recorded_interval_error_ms": percentiles(np.diff(errors), 1000),
        "drift_ms": None if moved is None else round(moved * 1000, 4) + 0.0,  # + 0.0: no "-0.0"
        "drift_over_s": round(float(wanted[-1] - wanted[0]), 1) if wanted.size else None,
        "beats_heard": int(heard_s.size),
        "beats_judged": int(errors.size),
    }


def gc_figures(pauses_s: tuple[float, ...] | list[float]) -> Report:
    """The longest pause and how many there were (None: no collection ran while measuring)."""
    return {"max_ms": round(max(pauses_s) * 1000, 4) if pauses_s else None, "collections": len(pauses_s)}


def witness_figures(rec: RecordedTake) -> Report:
    """The witness's own health: with an xrun or a missed cycle its timeline may be broken too."""
    return {"jack_xruns": rec.xruns, "missed_cycles": rec.gaps}


@contextlib.contextmanager
def collections_here() -> Iterator[list[float]]:
    """Seconds each automatic garbage collection of this process took (it runs in whichever thread
    allocates, holding the GIL, so an in-process engine waits for it)."""
    pauses: list[float] = []
    started = 0.0

    def timer(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
        else:
            pauses.append(time.perf_counter() - started)

    gc.callbacks.append(timer)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(timer)


def port(pattern: str, **kinds: bool) -> str:
    """The first JACK port matching `pattern`, with a clear error when the engine did not register it."""
    ports = find_ports(pattern, **kinds)
    if not ports:
        raise RuntimeError(f"no JACK port matches {pattern!r} ({kinds}): did the output open on JACK?")
    return ports[0]


# --- engines ---------------------------------------------------------------------------------------------


def metronome_engine(make: type[Metronome] | type[RemoteMetronome]) -> Engine:
    """A run of `make` (in this process or the engine's) playing audio and MIDI, witnessed from outside."""

    def run(plan: Plan, load: Load) -> Report:
        metronome = make(
            TempoSettings(bpm=Fraction(BPM), subdivision=SUBDIVISION),
            audio=AudioConfig(device=plan.device, voices=VOICES, latency=plan.latency),
            midi=MidiConfig(virtual=VIRTUAL, backend=JACK_MIDI),
        )
        problems = metronome.open()
        if problems:
            raise RuntimeError(f"{make.__name__} could not open its outputs: {problems}")
        # Another process's PortAudio client is "PortAudio-01"; only one stream is open at a time here.
        recorder = RecorderProcess(
            "bench-witness",
            plan.seconds + RECORD_MARGIN_S,
            audio=port(plan.audio_port, is_audio=True, is_output=True),
            midi=port(f"Companion:{VIRTUAL}", is_midi=True, is_output=True),
        )
        with collections_here() as here, load() as facts:
            origin = metronome.start()
            xruns_before = metronome.status().xruns
            time.sleep(max(0.0, origin - time.perf_counter() + plan.seconds))
            timings, xruns, tempo = metronome.timings(), metronome.status().xruns, metronome.tempo_map
        # The witness stops first: its xruns are those of the run, not of the engine tearing down.
        rec = recorder.stop()
        metronome.stop()
        metronome.close()
        assert tempo is not None
        note_ons = [frame for frame, _, _ in rec.note_ons()]
        clicks = itertools.islice(tempo.clicks(), 2 * len(note_ons))
        wanted = np.array([sample_at(c.time_s, rec.samplerate) for c in clicks]) / rec.samplerate
        heard = np.array(note_ons) / rec.samplerate
        # The engine process collects only between deadlines, itself; here collections fall anywhere.
        pauses = timings.gc_pauses_s if make is RemoteMetronome else here
        return {
            "audio": {
                **audio_figures(rec, tempo),
                "engine_xruns": xruns - xruns_before,
                "engine_xruns_open_to_start": xruns_before,
            },
            "midi": {
                # note-ons and note-offs: both are sends at deadlines
                "send_jitter_ms": percentiles(timings.send_lateness_s, 1000),
                **recorded_midi_figures(heard, wanted, np.array([rec.trusted(f, f) for f in note_ons])),
                "realtime_thread": timings.realtime,
                "gc_pauses": gc_figures(pauses),
            },
            "witness": witness_figures(rec),
            **({"load": facts} if facts else {}),
        }

    return run


def naive_sleep(plan: Plan, load: Load) -> Report:
    """What a straightforward metronome does: send, then time.sleep(interval), in a plain thread."""
    import mido

    out = mido.Backend(JACK_MIDI).open_output("naive", virtual=True, client_name="Naive")
    recorder = RecorderProcess(
        "bench-witness", plan.seconds + RECORD_MARGIN_S, midi=port("Naive:naive", is_midi=True)
    )
    interval = 60 / BPM / SUBDIVISION
    note_on = mido.Message("note_on", channel=9, note=76, velocity=100)
    note_off = mido.Message("note_off", channel=9, note=76, velocity=0)
    lateness: list[float] = []
    count = int(plan.seconds / interval)
    with collections_here() as here, load() as facts:
        start = time.perf_counter() + 0.1
        time.sleep(0.1)
        for k in range(count):
            lateness.append(time.perf_counter() - (start + k * interval))
            out.send(note_on)
            out.send(note_off)
            time.sleep(interval)
    rec = recorder.stop()
    out.close()
    heard = np.array([rec.to_perf(frame) for frame, _, _ in rec.note_ons()])
    return {
        "audio": None,
        "midi": {
            "send_jitter_ms": percentiles(np.diff(lateness), 1000),
            **recorded_midi_figures(heard, start + interval * np.arange(count)),
            "realtime_thread": False,
            "gc_pauses": gc_figures(here),
        },
        "witness": witness_figures(rec),
        **({"load": facts} if facts else {}),
    }


ENGINES: dict[str, Engine] = {
    "engine_process": metronome_engine(RemoteMetronome),
    "in_process": metronome_engine(Metronome),
    "naive_sleep": naive_sleep,
}


# --- loads -----------------------------------------------------------------------------------------------


def in_textual_app(measure: Measure) -> dict[str, Report]:
    """Run `measure` in a worker thread of a Textual app whose load is redrawing a screenful of changing
    text 60 times a second; it redraws only while a run measures, and reports the frame rate it kept."""
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    result: dict[str, Report] = {}
    failure: list[BaseException] = []
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz      "))

    class Busy(App[None]):
        def compose(self) -> ComposeResult:
            yield Static(id="text")

        def on_mount(self) -> None:
            self.frames = 0
            self.timer = self.set_interval(1 / 60, self.redraw, pause=True)
            self.run_worker(self.measure, thread=True)

        def redraw(self) -> None:
            self.frames += 1
            self.query_one("#text", Static).update("".join(rng.choice(letters, 4_000)))

        @contextlib.contextmanager
        def redrawing(self) -> Iterator[dict[str, Any]]:
            facts: dict[str, Any] = {}
            frames, began = self.frames, time.perf_counter()
            self.call_from_thread(self.timer.resume)
            try:
                yield facts
            finally:
                self.call_from_thread(self.timer.pause)
                facts["textual_frames_per_s"] = round(
                    (self.frames - frames) / (time.perf_counter() - began), 1
                )

        def measure(self) -> None:
            try:
                result.update(measure(self.redrawing))
            except BaseException as exc:  # re-raised in the main thread once the app has exited
                failure.append(exc)
            finally:
                self.call_from_thread(self.exit)

    Busy().run(headless=True, size=(160, 50))
    if failure:
        raise failure[0]
    return result


def under(load: Load) -> Callable[[Measure], dict[str, Report]]:
    """A load that needs nothing around the runs (unlike the Textual app, which must run them)."""
    return lambda measure: measure(load)


LOADS: dict[str, Callable[[Measure], dict[str, Report]]] = {
    "idle": under(contextlib.nullcontext),
    "cpu_burning_thread": under(busy_python_thread),
    "cpu_burning_process": under(lambda: spinning_processes(1)),
    "textual_app_redrawing": in_textual_app,
    "stress_all_cores": under(lambda: spinning_processes(os.cpu_count() or 1)),
}


# --- the report ------------------------------------------------------------------------------------------


def tempo_map_drift() -> Report:
    """Exact map vs adding float intervals, after one hour of beats at an awkward tempo (97 bpm)."""
    tempo = TempoMap(TempoSettings(bpm=Fraction(97)))
    beats = 97 * 60
    added = 0.0
    for _ in range(beats):
        added += 60 / 97
    return {
        "beats": beats,
        "exact_map_error_s": float(tempo.time_at(beats) - Fraction(3600)),
        "float_accumulation_error_s": added - 3600,
        "beat_7200_at_120_bpm_s": float(TempoMap(TempoSettings(bpm=Fraction(120))).time_at(7200)),
    }


def target(measured: dict[str, Any], ok: Callable[[Any], bool]) -> Report:
    """A target over the loads measured: met when every judged figure is there and passes; None when no
    load it needs was run, or every figure it needs came from a witness that was not clean."""
    judged = {load: v for load, v in measured.items() if not isinstance(v, Unjudged)}
    shown = {load: (v.why if isinstance(v, Unjudged) else v) for load, v in measured.items()}
    if not judged:
        return {"measured": shown or None, "met": None}
    return {"measured": shown, "met": all(v is not None and ok(v) for v in judged.values())}


@dataclass(frozen=True)
class Unjudged:
    """A figure read from a witness that itself lost cycles: its timeline may be broken, so the figure is
    reported but judges nothing (as the timing tests retake such takes rather than judge them)."""

    why: str


def witnessed(figure: Callable[[Report], Any]) -> Callable[[Report], Any]:
    """`figure`, unless the run's witness saw JACK xruns or missed cycles."""

    def read(run: Report) -> Any:
        health = run["witness"]
        if health["jack_xruns"] or health["missed_cycles"]:
            return Unjudged(
                f"not judged ({figure(run)}): the witness saw {health['jack_xruns']} JACK xruns and missed "
                f"{health['missed_cycles']} cycles"
            )
        return figure(run)

    return read


JUDGED_SHARE = 0.9
"""Drift is judged on the note-ons the witness saw cleanly when they are at least this share of all."""


def judged_drift(run: Report) -> Any:
    """The MIDI drift over the note-ons away from the witness's xruns and missed cycles, unless too few
    were (a witness that lost a tenth of the run says too little)."""
    midi = run["midi"]
    heard, judged = midi["beats_heard"], midi.get("beats_judged", midi["beats_heard"])
    if heard and judged >= JUDGED_SHARE * heard:
        return midi["drift_ms"]
    health = run["witness"]
    return Unjudged(
        f"not judged ({midi['drift_ms']} over {judged} of {heard} note-ons): the witness saw "
        f"{health['jack_xruns']} JACK xruns and missed {health['missed_cycles']} cycles"
    )


def targets(report: Report, engine: str, loads: list[str]) -> Report:
    """The engine's timing targets, each with the figures it was judged on (by load)."""
    redrawing, idle = ["textual_app_redrawing"], ["idle"]

    def by_load(figure: Callable[[Report], Any], among: list[str] = loads) -> dict[str, Any]:
        return {load: figure(report[load][engine]) for load in loads if load in among}

    return {
        "audio onset error <= 1 sample while the app redraws": target(
            by_load(witnessed(lambda r: r["audio"]["onset_error_samples_max"]), redrawing), lambda v: v <= 1
        ),
        "0 engine xruns while the app redraws": target(
            by_load(lambda r: r["audio"]["engine_xruns"], redrawing), lambda v: v == 0
        ),
        "MIDI send jitter p99 < 0.5 ms idle": target(
            by_load(lambda r: r["midi"]["send_jitter_ms"]["p99"], idle), lambda v: v < 0.5
        ),
        "MIDI send jitter p99 < 1 ms under every load": target(
            by_load(lambda r: r["midi"]["send_jitter_ms"]["p99"]), lambda v: v < 1
        ),
        "|MIDI drift| < 1 ms over each run (one hour: --seconds 3600 --only engine_process --loads idle)": (
            target(by_load(judged_drift), lambda v: abs(v) < 1)
        ),
    }


def measure_engines(engines: list[str], plan: Plan) -> Measure:
    """Each engine in turn, each set up, measured under the load and torn down before the next."""

    def measure(load: Load) -> dict[str, Report]:
        results = {}
        for name in engines:
            print(f"timing: {name}", file=sys.stderr, flush=True)
            results[name] = ENGINES[name](plan, load)
        return results

    return measure


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measured run")
    parser.add_argument("--latency", type=check_latency, default="high", help="audio latency: low, high, s")
    parser.add_argument(
        "--audio-device", choices=["portaudio", "jack"], default="portaudio", help="speaker output to measure"
    )
    parser.add_argument("--only", nargs="+", choices=list(ENGINES), default=list(ENGINES), help="engines")
    parser.add_argument("--loads", nargs="+", choices=list(LOADS), default=list(LOADS), help="loads")
    args = parser.parse_args()
    engines = [name for name in ENGINES if name in args.only]
    loads = [name for name in LOADS if name in args.loads]
    plan = Plan(args.seconds, args.latency, "jack" if args.audio_device == "jack" else None)
    # A hang must not hang CI: per run, the measured time twice over (analysis of a long take takes a
    # while) plus set-up; the Textual app's start and stop on top.
    faulthandler.dump_traceback_later(120 + len(engines) * len(loads) * (2 * args.seconds + 30), exit=True)
    report: Report = {
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
        },
        "settings": {
            "bpm": BPM,
            "subdivision": SUBDIVISION,
            "seconds_per_run": args.seconds,
            "audio_latency": args.latency,
            "audio_device": args.audio_device,
            "engines": engines,
            "loads": loads,
        },
        "tempo_map": tempo_map_drift(),
    }
    with dummy_jack(name=f"companion-bench-{os.getpid()}") as server:
        report["machine"]["jack"] = {
            "driver": "dummy",
            "samplerate": server.samplerate,
            "period": server.blocksize,
            "realtime": server.realtime,
        }
        measure = measure_engines(engines, plan)
        for load in loads:
            print(f"timing: under load {load}", file=sys.stderr, flush=True)
            report[load] = LOADS[load](measure)
        if "engine_process" in engines:
            # The process this environment's RemoteMetronomes used; ended here, while its JACK server runs.
            process = EngineProcess.shared()
            hello = process.hello
            assert hello is not None
            report["machine"]["engine_process"] = {
                "realtime": hello.realtime,
                "memory_locked": hello.memory_locked,
                "notes": list(hello.notes),
                "restarts": process.restarts,
            }
            process.close()
    report["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    report["targets"] = {
        engine: targets(report, engine, loads) for engine in engines if engine != "naive_sleep"
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
