"""How the app is set up, apart from the app: the live session's controls read it without Textual."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from audio.audio_output import DEFAULT_LATENCY, Latency
from companion.live.wall_clock import Clock, SystemClock
from companion.record.backups import DEFAULT_BACKUP_EVERY
from companion.record.cipher import DataKey

DARK = "textual-dark"


@dataclass(frozen=True)
class AppConfig:
    """How the app is set up: where the data live, what "now" is, and which metronome outputs to use.

    `metronome_outputs` is "audio", "midi", "both" or "none" (beat light only); `midi_port` names an
    existing port, else a virtual port called `midi_virtual` is created; `audio_latency` is the speaker's
    buffer ("high" by default: safe, and no less accurate, see `audio.audio_output.DEFAULT_LATENCY`).
    Tests inject a fixed clock and "none" so nothing depends on the day or on a sound card.
    """

    data_dir: Path | None = None
    clock: Clock = field(default_factory=SystemClock)
    backup_every: timedelta | None = DEFAULT_BACKUP_EVERY
    theme: str = DARK
    metronome_outputs: str = "audio"
    midi_port: str | None = None
    midi_virtual: str = "Companion"
    audio_device: str | None = None
    audio_latency: Latency = DEFAULT_LATENCY
    busy_timeout: float = 2.0
    key: DataKey | None = None
    """An encrypted data folder's key, asked for by the command line before the app starts."""
