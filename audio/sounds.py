"""Click sounds synthesised with numpy, one per accent level, with a volume each.

Why synthesised: no sample files to ship or lose, any sample rate, and every sound starts at full level on
its first sample, so a click's onset *is* its scheduled sample (what the timing tests and a client hear).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from audio.tempo import Level


class Sound(enum.Enum):
    """The click timbres a therapist can choose per level."""

    WOOD_BLOCK = "wood_block"
    COWBELL = "cowbell"
    SOFT_CLICK = "soft_click"
    RIM = "rim"
    BEEP = "beep"


@dataclass(frozen=True)
class Voice:
    """The sound of one accent level: a timbre and a volume from 0 (silent) to 1 (full scale)."""

    sound: Sound
    volume: float

    def __post_init__(self) -> None:
        if not 0 <= self.volume <= 1:
            raise ValueError(f"volume {self.volume} is out of range: use 0-1")


DEFAULT_VOICES: Mapping[Level, Voice] = {
    Level.ACCENT: Voice(Sound.COWBELL, 0.9),
    Level.BEAT: Voice(Sound.WOOD_BLOCK, 0.8),
    Level.SUB: Voice(Sound.SOFT_CLICK, 0.45),
}


def _decay(samplerate: int, seconds: float, time_constant: float) -> np.ndarray:
    t = np.arange(int(samplerate * seconds)) / samplerate
    return np.exp(-t / time_constant)


def _partials(samplerate: int, seconds: float, freqs_and_gains: list[tuple[float, float]]) -> np.ndarray:
    t = np.arange(int(samplerate * seconds)) / samplerate
    # Cosines start at their peak, so the first sample is the loudest: a sharp, exactly placed onset.
    return sum((gain * np.cos(2 * np.pi * f * t) for f, gain in freqs_and_gains), np.zeros_like(t))


def synthesize(sound: Sound, samplerate: int) -> np.ndarray:
    """A mono float32 one-shot peaking at 1.0 on its first sample."""
    rng = np.random.default_rng(7)
    if sound is Sound.WOOD_BLOCK:
        wave = _partials(samplerate, 0.06, [(880.0, 1.0), (1_740.0, 0.35)]) * _decay(samplerate, 0.06, 0.012)
    elif sound is Sound.COWBELL:
        square = np.sign(_partials(samplerate, 0.12, [(540.0, 1.0)])) + np.sign(
            _partials(samplerate, 0.12, [(800.0, 1.0)])
        )
        wave = square * _decay(samplerate, 0.12, 0.035)
    elif sound is Sound.SOFT_CLICK:
        wave = _partials(samplerate, 0.015, [(2_000.0, 1.0)]) * _decay(samplerate, 0.015, 0.003)
    elif sound is Sound.RIM:
        n = int(samplerate * 0.03)
        wave = (_partials(samplerate, 0.03, [(1_700.0, 1.0)]) + 0.4 * rng.uniform(-1, 1, n)) * _decay(
            samplerate, 0.03, 0.005
        )
        wave[0] = 1.4
    else:
        wave = _partials(samplerate, 0.05, [(1_000.0, 1.0)]) * _decay(samplerate, 0.05, 0.02)
    return (wave / np.max(np.abs(wave))).astype(np.float32)


class SoundBank:
    """The finished sample array of each level at one sample rate; built outside the audio callback.

    Levels without a voice (and SILENT) map to an empty array, so a silent beat costs nothing to render.
    """

    def __init__(self, samplerate: int, voices: Mapping[Level, Voice] = DEFAULT_VOICES) -> None:
        self.samplerate = samplerate
        self.voices = dict(voices)
        self.levels = list(Level)
        self.arrays: list[np.ndarray] = [
            synthesize(voices[level].sound, samplerate) * np.float32(voices[level].volume)
            if level in voices and level is not Level.SILENT
            else np.zeros(0, dtype=np.float32)
            for level in self.levels
        ]

    def index(self, level: Level) -> int:
        """The integer id of a level's sound, as the renderer's schedule stores it."""
        return self.levels.index(level)

    @property
    def longest(self) -> int:
        return max(len(a) for a in self.arrays)
