"""JACK frame numbers on the engine clock (`time.perf_counter`), for the JACK MIDI reader and audio output.

JACK-Client (0.5.x) wraps neither ``jack_frames_to_time``, ``jack_get_time`` nor port latencies,
so they are called from libjack through ctypes with the client's handle (PyDLL: the GIL is kept, no
re-acquisition on the real-time thread). JACK's clock is not perf_counter's (jack2 on Linux reads
CLOCK_MONOTONIC_RAW, perf_counter is CLOCK_MONOTONIC): the offset is measured by reading perf_counter on
both sides of ``jack_get_time`` and keeping the tightest bracket, and must be measured again now and then
(NTP slews one against the other).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import time
from collections.abc import Callable
from typing import Any


class _LatencyRange(ctypes.Structure):
    _fields_ = (("min", ctypes.c_uint32), ("max", ctypes.c_uint32))


_PLAYBACK_LATENCY = 1
"""`JackPlaybackLatency`: frames from a port to the speakers."""


class JackClock:
    """Frames of one JACK client's server, as engine-clock seconds."""

    def __init__(self, client: Any) -> None:
        import jack

        lib = ctypes.PyDLL(ctypes.util.find_library("jack") or "libjack.so.0")
        self._frames_to_time = lib.jack_frames_to_time
        self._frames_to_time.restype = ctypes.c_uint64
        self._frames_to_time.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        self._get_time = lib.jack_get_time
        self._get_time.restype = ctypes.c_uint64
        self._get_time.argtypes = []
        self._latency_range = lib.jack_port_get_latency_range
        self._latency_range.restype = None
        self._latency_range.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        self._pointer: Callable[[Any], ctypes.c_void_p] = lambda obj: ctypes.c_void_p(
            int(jack._ffi.cast("uintptr_t", obj._ptr))
        )
        self._handle = self._pointer(client)
        self.offset_s = self.measure_offset()

    def measure_offset(self) -> float:
        """perf_counter minus JACK time, in seconds."""
        best_width, best = math.inf, 0.0
        for _ in range(16):
            before = time.perf_counter()
            jack_us = self._get_time()
            after = time.perf_counter()
            if after - before < best_width:
                best_width, best = after - before, (before + after) / 2.0 - jack_us / 1e6
        return best

    def seconds(self, frame: int) -> float:
        return self._frames_to_time(self._handle, frame & 0xFFFFFFFF) / 1e6 + self.offset_s

    def playback_latency(self, port: Any) -> int:
        """Frames from `port` (an output of this client) to the speakers, as the JACK graph says now."""
        found = _LatencyRange()
        self._latency_range(self._pointer(port), _PLAYBACK_LATENCY, ctypes.byref(found))
        return int(found.max)
