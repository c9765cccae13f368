"""What `kill -9` of the timing engine costs: how soon the app hears of it, how soon the metronome plays
again, and how long the beat is silent; prints one JSON object.

A metronome (no output: the engine still keeps time and sends its beats) plays in the engine process;
the process is killed `--kills` times with SIGKILL. For each kill: time from the kill to the listener
getting the "engine stopped" problem (what the app shows; target < 1 s), to the "restarted" recovery,
and the gap between the last beat before the kill and the first beat after it.

Run: `.venv/bin/python benchmarks/engine_restart.py [--kills 10]`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from figures import percentiles  # noqa: E402

from audio.engine_client import RemoteMetronome  # noqa: E402
from audio.engine_events import BeatEvent, EngineEvent, OutputProblem  # noqa: E402
from audio.engine_process import ENGINE, EngineProcess  # noqa: E402
from audio.tempo import TempoSettings  # noqa: E402


class Watch:
    """Arrival times (perf_counter) of beats and of the engine's lost/back problems."""

    def __init__(self) -> None:
        self.beats: list[float] = []
        self.lost: list[float] = []
        self.back = threading.Semaphore(0)
        self.back_at: list[float] = []

    def __call__(self, event: EngineEvent) -> None:
        now = time.perf_counter()
        if isinstance(event, BeatEvent):
            self.beats.append(now)
        elif isinstance(event, OutputProblem) and event.output == ENGINE:
            if event.recovered:
                self.back_at.append(now)
                self.back.release()
            else:
                self.lost.append(now)


def measure(kills: int) -> dict[str, Any]:
    process = EngineProcess().start()
    watch = Watch()
    metronome = RemoteMetronome(TempoSettings(bpm=120, subdivision=4), process=process)
    metronome.add_listener(watch)
    metronome.start()
    noticed, restarted, silent = [], [], []
    try:
        for _ in range(kills):
            time.sleep(1.0)
            pid = process.pid
            assert pid is not None
            before = len(watch.beats)
            killed_at = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            if not watch.back.acquire(timeout=30):
                raise RuntimeError("the engine did not come back within 30 s")
            deadline = time.monotonic() + 5
            while len(watch.beats) <= before and time.monotonic() < deadline:
                time.sleep(0.001)
            noticed.append(watch.lost[-1] - killed_at)
            restarted.append(watch.back_at[-1] - killed_at)
            silent.append(watch.beats[before] - watch.beats[before - 1])
    finally:
        metronome.close()
        process.close()
    return {
        "kills": kills,
        "restarts": process.restarts,
        "kill_to_notice_ms": percentiles(noticed, 1000),
        "kill_to_restarted_ms": percentiles(restarted, 1000),
        "beat_gap_ms": percentiles(silent, 1000),
        "beat_interval_ms": 125.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=10)
    args = parser.parse_args()
    report = {"machine": {"cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2)}}
    report["engine_restart"] = measure(args.kills)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
