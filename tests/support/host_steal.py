"""How much CPU time the hypervisor takes from this machine, and waiting until it takes none.

This machine (and the CI host) is a virtual machine whose host lends its cores out. When the host takes
them back, every thread stalls at once, realtime or not: jackd's dummy driver wakes late ("driver late"),
and every client of that cycle misses it. Such storms come and go over seconds. A JACK take spoiled by
one is retaken (`engine_takes`); retaking in the middle of the same storm only spoils the next take too,
so a retake first waits until the host has left the machine alone for a moment (`wait_until_quiet`).
The kernel counts the stolen time in /proc/stat's `steal` column.
"""

from __future__ import annotations

import os
import time

QUIET_WINDOW_S = 0.5
QUIET_WINDOWS = 2
"""Quiet means this many consecutive windows in which the host took at most one clock tick."""
QUIET_WAIT_S = 20.0
"""The longest a retake waits for a quiet host; after that it is played anyway (and judged as always)."""


def steal_seconds() -> float | None:
    """CPU time the hypervisor took from this machine since boot (/proc/stat's steal column), if known."""
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def wait_until_quiet(max_wait: float = QUIET_WAIT_S) -> float:
    """Wait until the host has taken at most one tick in each of `QUIET_WINDOWS` consecutive windows, or
    `max_wait` seconds; returns the seconds waited. Without a steal count, waits one window."""
    tick = 1 / os.sysconf("SC_CLK_TCK")
    began = time.monotonic()
    quiet = 0
    before = steal_seconds()
    while quiet < QUIET_WINDOWS and time.monotonic() - began < max_wait:
        time.sleep(QUIET_WINDOW_S)
        after = steal_seconds()
        if before is None or after is None:
            break
        quiet = quiet + 1 if after - before <= tick * 1.5 else 0
        before = after
    return time.monotonic() - began
