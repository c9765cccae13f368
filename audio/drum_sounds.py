"""The synthesiser's drum kit: General MIDI percussion keys, and sounds made at start-up from noise and sines.

Made once per sample rate (`drum_sounds`) so the audio callback only copies them; a fixed seed gives the
same sounds on every run, tests included.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

Buffer = npt.NDArray[np.float64]
"""Mono samples, -1..1 (the synthesiser's tones and scratch buffers are the same)."""

DRUM_FOR_NOTE = {
    35: "kick",
    36: "kick",
    37: "side stick",
    38: "snare",
    39: "clap",
    40: "snare",
    **dict.fromkeys((41, 43, 45, 47, 48, 50), "tom"),
    42: "closed hi-hat",
    44: "pedal hi-hat",
    46: "open hi-hat",
    **dict.fromkeys((49, 52, 55, 57), "crash"),
    **dict.fromkeys((51, 59), "ride"),
    53: "ride bell",
    54: "tambourine",
    56: "cowbell",
    **dict.fromkeys((69, 70, 82), "shaker"),
    75: "claves",
    76: "wood block",
    77: "low wood block",
    80: "mute triangle",
    81: "open triangle",
}
"""General MIDI percussion keys to the sounds below; any other key plays the wood block."""


def drum_sounds(samplerate: int) -> dict[str, Buffer]:
    """Synthesise every drum sound once (fixed seed: the same sounds on every run, tests included)."""
    rng = np.random.default_rng(20240611)

    def noise(t: Buffer) -> Buffer:
        return rng.standard_normal(len(t))

    def hiss(t: Buffer) -> Buffer:
        """Noise with the lows taken out (first difference): cymbals, hats, shakers."""
        return np.diff(noise(t), prepend=0.0)

    def tone(t: Buffer, frequency: float) -> Buffer:
        return np.cos(2 * np.pi * frequency * t)

    def sweep(t: Buffer, low: float, high: float, fall: float) -> Buffer:
        """A tone falling from `high` to `low` Hz (drum heads), starting at phase 0."""
        frequency = low + (high - low) * np.exp(-t / fall)
        return np.cos(2 * np.pi * (np.cumsum(frequency) - frequency[0]) / samplerate)

    def decay(t: Buffer, seconds: float) -> Buffer:
        return np.exp(-t / seconds)

    def clap(t: Buffer) -> Buffer:
        bursts = sum(np.where(t >= d, decay(np.maximum(t - d, 0), 0.008), 0.0) for d in (0, 0.011, 0.023))
        return noise(t) * (bursts + 0.3 * decay(t, 0.09))

    recipes: dict[str, tuple[float, float, Callable[[Buffer], Buffer]]] = {
        # name: (seconds, peak level, sound as a function of time)
        "kick": (0.5, 1.0, lambda t: sweep(t, 50, 160, 0.035) * decay(t, 0.22)),
        "snare": (0.35, 0.8, lambda t: noise(t) * decay(t, 0.1) + tone(t, 185) * decay(t, 0.07)),
        "side stick": (0.1, 0.6, lambda t: tone(t, 1700) * decay(t, 0.018) + hiss(t) * decay(t, 0.008)),
        "clap": (0.3, 0.6, clap),
        "tom": (0.6, 0.8, lambda t: sweep(t, 110, 170, 0.06) * decay(t, 0.28)),
        "closed hi-hat": (0.15, 0.4, lambda t: hiss(t) * decay(t, 0.022)),
        "pedal hi-hat": (0.2, 0.35, lambda t: hiss(t) * decay(t, 0.035)),
        "open hi-hat": (1.2, 0.4, lambda t: hiss(t) * decay(t, 0.3)),
        "crash": (2.5, 0.4, lambda t: hiss(t) * decay(t, 0.8)),
        "ride": (1.8, 0.35, lambda t: hiss(t) * decay(t, 0.5) + 0.4 * tone(t, 2350) * decay(t, 0.6)),
        "ride bell": (1.5, 0.4, lambda t: tone(t, 1180) * decay(t, 0.5) + tone(t, 2800) * decay(t, 0.25)),
        "tambourine": (0.35, 0.45, lambda t: hiss(t) * decay(t, 0.1)),
        "cowbell": (0.4, 0.5, lambda t: (tone(t, 540) + tone(t, 800)) * decay(t, 0.11)),
        "shaker": (0.15, 0.35, lambda t: hiss(t) * decay(t, 0.03)),
        "claves": (0.15, 0.55, lambda t: tone(t, 2500) * decay(t, 0.025)),
        "wood block": (0.2, 0.55, lambda t: tone(t, 1150) * decay(t, 0.035)),
        "low wood block": (0.2, 0.55, lambda t: tone(t, 850) * decay(t, 0.04)),
        "mute triangle": (0.3, 0.3, lambda t: tone(t, 4200) * decay(t, 0.06)),
        "open triangle": (2.0, 0.3, lambda t: tone(t, 4200) * decay(t, 0.8)),
    }
    sounds = {}
    for name, (seconds, peak, build) in recipes.items():
        sound = build(np.arange(int(seconds * samplerate)) / samplerate)
        sounds[name] = np.ascontiguousarray(sound * (peak / np.max(np.abs(sound))), dtype=np.float64)
    return sounds
