"""What a `Metronome` is built from and what it reports: plain values, shared with its remote clients.

They live apart from the engine so the UI process (`audio.engine_client`) and the engine protocol can
name outputs, configurations and boundaries without importing the timing code.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from audio.audio_output import DEFAULT_LATENCY, Latency
from audio.midi_output import MidiSettings
from audio.sounds import DEFAULT_VOICES, Voice
from audio.tempo import Level

AUDIO = "audio"
MIDI = "midi"


class Boundary(enum.Enum):
    """Where a change takes effect: the next beat not yet committed, or the next bar line."""

    BEAT = "beat"
    BAR = "bar"


@dataclass(frozen=True)
class AudioConfig:
    """Speaker output: device name/index (None = system default; "jack" or "jack:PORTS" straight into
    JACK), sounds per level, stream options (PortAudio's; JACK has its own rate and period)."""

    device: str | int | None = None
    voices: Mapping[Level, Voice] = field(default_factory=lambda: dict(DEFAULT_VOICES))
    samplerate: int | None = None
    latency: Latency = DEFAULT_LATENCY


@dataclass(frozen=True)
class MidiConfig:
    """MIDI output: a port by name or a virtual port, the mido backend, and what clicks send."""

    port: str | None = None
    virtual: str | None = None
    backend: str | None = None
    settings: MidiSettings = field(default_factory=MidiSettings)


@dataclass(frozen=True)
class OutputState:
    """One output as the UI shows it: usable or not (with the reason), and muted or not."""

    name: str
    available: bool
    muted: bool
    message: str = ""


@dataclass(frozen=True)
class EngineStatus:
    running: bool
    bpm: Fraction
    outputs: Mapping[str, OutputState]
    xruns: int
    late_clicks: int
    dropped_events: int


@dataclass(frozen=True)
class Timings:
    """How the MIDI scheduler kept time in the current run (for the benchmark and the CLI)."""

    send_lateness_s: Any
    """Send-call time minus deadline of each message, seconds (a numpy array; empty when stopped)."""
    realtime: bool
    """The scheduler thread got realtime scheduling."""
    gc_pauses_s: tuple[float, ...]
    """Each garbage collection the scheduler ran between deadlines (see `collect_garbage`), seconds."""
