"""Musical cues benchmark on a private dummy JACK server; prints one JSON document.

What it measures:
- loading the demo songs (ms per file);
- the cue player's work per scheduler poll (µs, p50/p99/max), which runs on the timing thread;
- MIDI: a 120 bpm file played at 90 bpm with the click layered: every recorded note-on against the scaled
  tempo map (ms, p50/p99/max; JACK delivers MIDI at period starts, so up to one period, 2.67 ms at
  48 kHz/128, is JACK's share), and the engine's send jitter with the song playing;
- audio: the same song through the synth on the speaker path, compared sample by sample with an offline
  rendering of the notes at the map's exact samples (max difference; 0 means every sample is exact);
- the synth feed's render time per 128-frame block while a demo song plays with a fade (µs).

Run: `.venv/bin/python benchmarks/cues.py [--seconds 8]` (or `make bench`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import mido
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from figures import percentiles  # noqa: E402
from support.jackd import dummy_jack  # noqa: E402
from support.recorder import RecorderProcess  # noqa: E402

from audio.cue_player import CuePlayer  # noqa: E402
from audio.cues import SongCue  # noqa: E402
from audio.engine import Metronome  # noqa: E402
from audio.engine_config import AudioConfig, MidiConfig  # noqa: E402
from audio.fade import Fade  # noqa: E402
from audio.render import sample_at  # noqa: E402
from audio.song import Song  # noqa: E402
from audio.song_file import load_song  # noqa: E402
from audio.songs import demo_song_paths  # noqa: E402
from audio.synth import Synth  # noqa: E402
from audio.synth_feed import SynthFeed  # noqa: E402
from audio.tempo import TempoSettings  # noqa: E402

JACK_MIDI = "mido.backends.rtmidi/UNIX_JACK"
RATE = 48_000
FILE_BPM, TARGET_BPM = 120, 90


def eighths_song(folder: Path) -> Song:
    """Eight bars of eighth notes at 120 bpm, melody on channel 1 (a dense, even test of placement)."""
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(FILE_BPM))])
    for k in range(64):
        note = 60 + (k * 5) % 17
        track.append(mido.Message("note_on", note=note, velocity=96, time=0 if k == 0 else 40))
        track.append(mido.Message("note_off", note=note, time=200))
    path = folder / "eighths-120.mid"
    mido.MidiFile(tracks=[track], ticks_per_beat=480).save(path)
    return load_song(path)


def load_times() -> dict[str, float]:
    times = {}
    for path in demo_song_paths():
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            load_song(path)
            runs.append(time.perf_counter() - start)
        times[path.stem] = round(statistics.median(runs) * 1000, 2)
    return times


def timed_polls(player: CuePlayer) -> list[float]:
    """Wrap the player's poll (the scheduler calls it by attribute) to time each call."""
    durations: list[float] = []
    poll: Callable[[float], Any] = player.events_until

    def timed(horizon: float) -> Any:
        start = time.perf_counter()
        result = poll(horizon)
        durations.append(time.perf_counter() - start)
        return result

    player.events_until = timed  # type: ignore[method-assign]
    return durations


def midi_run(song: Song, seconds: float) -> dict[str, Any]:
    metronome = Metronome(TempoSettings(bpm=TARGET_BPM), midi=MidiConfig(virtual="cues", backend=JACK_MIDI))
    assert metronome.open() == []
    player = CuePlayer(metronome, SongCue(song))
    polls = timed_polls(player)
    recorder = RecorderProcess("cues-recorder", seconds + 5, midi="Companion:cues")
    origin = metronome.start()
    scheduler = metronome._scheduler
    time.sleep(origin - time.perf_counter() + seconds)
    tempo = metronome.tempo_map
    jitter = scheduler.jitter.recent() if scheduler is not None else np.zeros(0)
    metronome.stop()
    time.sleep(0.05)
    take = recorder.stop()
    metronome.close()
    assert tempo is not None
    heard = [(take.to_perf(frame), data[1]) for frame, data in take.midi if data[0] == 0x90 and data[2] > 0]
    due = [event.beat for event in song.events if event.message.type == "note_on"]
    errors = [at - (origin + float(tempo.time_at(beat))) for (at, _), beat in zip(heard, due, strict=False)]
    return {
        "note_on_error_ms": percentiles(errors, 1000),
        "notes": len(heard),
        "send_jitter_ms_with_song_and_click": percentiles(jitter, 1000),
        "player_poll_us": percentiles(polls, 1e6),
        "jack_xruns": take.xruns,
    }


def audio_run(song: Song, seconds: float) -> dict[str, Any]:
    metronome = Metronome(TempoSettings(bpm=TARGET_BPM), audio=AudioConfig())
    assert metronome.open() == []
    player = CuePlayer(metronome, SongCue(song))
    player.set_click(False)
    recorder = RecorderProcess("cues-audio-recorder", seconds + 5, audio="PortAudio:out_0")
    origin = metronome.start()
    time.sleep(origin - time.perf_counter() + seconds)
    tempo = metronome.tempo_map
    metronome.stop()
    time.sleep(0.05)
    take = recorder.stop()
    metronome.close()
    assert tempo is not None
    played = [e for e in song.events if tempo.time_at(e.beat) < seconds - 0.5]
    end = sample_at(tempo.time_at(played[-1].beat), RATE)
    expected = np.zeros(end, dtype=np.float32)
    synth = Synth(RATE)
    for event in played:
        synth.send(sample_at(tempo.time_at(event.beat), RATE), event.message)
    synth.render(expected, 0)
    first = int(np.flatnonzero(take.audio)[0])
    heard = take.audio[first : first + end]
    return {
        "max_sample_difference": float(np.max(np.abs(heard - expected[: len(heard)]))),
        "samples_compared": len(heard),
        "notes": sum(e.message.type == "note_on" for e in played),
        "jack_xruns": take.xruns,
    }


def feed_render_cost() -> dict[str, Any]:
    song = load_song(next(p for p in demo_song_paths() if p.stem == "amazing-grace"))
    feed = SynthFeed(Synth(RATE))
    for item in song.cursor().take_until(10**6):
        feed.send(sample_at(Fraction(item.beat) * 60 / 80, RATE), item.message)
    feed.fade = Fade(RATE * 10, RATE * 20, 1.0, 0.2)
    block = np.zeros(128, dtype=np.float32)
    durations = []
    for k in range(RATE * 30 // 128):
        start = time.perf_counter()
        feed.render(block, k * 128)
        durations.append(time.perf_counter() - start)
    return {"render_us_per_128_frames": percentiles(durations, 1e6), "budget_us": round(128 / RATE * 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2)},
        "python": platform.python_version(),
        "settings": {"file_bpm": FILE_BPM, "target_bpm": TARGET_BPM, "seconds_per_run": args.seconds},
        "load_ms": load_times(),
        "feed": feed_render_cost(),
    }
    with tempfile.TemporaryDirectory() as folder, dummy_jack(name=f"companion-cues-bench-{os.getpid()}"):
        song = eighths_song(Path(folder))
        report["midi"] = midi_run(song, args.seconds)
        report["audio"] = audio_run(song, args.seconds)
    report["machine"]["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
