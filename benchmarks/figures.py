"""What several benchmarks share: percentile figures of a sample, and loads to measure under (a thread that
keeps the GIL busy, processes that keep cores busy)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Iterator

import numpy as np


def percentiles(values: list[float] | np.ndarray, scale: float = 1.0) -> dict[str, float]:
    """p50/p99/max of the absolute values times `scale` (1000 for ms from s), and how many there were."""
    a = np.abs(np.asarray(values, dtype=float)) * scale
    if a.size == 0:
        return {"p50": float("nan"), "p99": float("nan"), "max": float("nan"), "n": 0}
    return {
        "p50": round(float(np.percentile(a, 50)), 4),
        "p99": round(float(np.percentile(a, 99)), 4),
        "max": round(float(a.max()), 4),
        "n": int(a.size),
    }


@contextlib.contextmanager
def busy_python_thread() -> Iterator[None]:
    """A Python thread that never sleeps: it competes for the GIL and a core all the time, as a busy
    app's own work would."""
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(2_000))

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


_SPIN = """
import os
parent = os.getppid()
while os.getppid() == parent:
    for _ in range(100_000):
        pass
"""
"""Spins a core until told to stop, or until its parent is gone (checked every few ms), so a benchmark
killed by its hang guard leaves no process burning a shared machine's CPU."""


@contextlib.contextmanager
def spinning_processes(count: int) -> Iterator[None]:
    """`count` separate OS processes, each spinning a core at normal priority (as `stress --cpu N`): CPU
    contention from outside, which no interpreter lock of ours is involved in."""
    spinners = [subprocess.Popen([sys.executable, "-c", _SPIN]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait()
