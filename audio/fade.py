"""Fades: a gain that moves linearly between two positions, for fading a cue out and back in.

Why: to test carry-over in RAS the therapist fades the click or the music out (and back in) while the client
keeps walking. A fade is a plain immutable value, so the thread that plays sound reads it with one reference
read and never sees it half-changed; a new fade starts from the gain the old one had reached at that point,
so reversing a fade mid-way never jumps.

Positions are whatever the user counts in: engine beats for clicks and MIDI notes (velocity scaling), stream
samples for the synth's output (`BlockGain` applies a sample fade to audio blocks without allocating).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt

Position = int | Fraction


@dataclass(frozen=True)
class Fade:
    """Gain `start_gain` up to `start`, `end_gain` from `end`, a straight line in between."""

    start: Position = 0
    end: Position = 0
    start_gain: float = 1.0
    end_gain: float = 1.0

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"a fade cannot end ({self.end}) before it starts ({self.start})")
        if not (0.0 <= self.start_gain <= 1.0 and 0.0 <= self.end_gain <= 1.0):
            raise ValueError(f"fade gains must be 0-1, not {self.start_gain} and {self.end_gain}")

    @classmethod
    def constant(cls, gain: float) -> Fade:
        return cls(0, 0, gain, gain)

    def gain_at(self, position: Position) -> float:
        if position >= self.end:
            return self.end_gain
        if position <= self.start:
            return self.start_gain
        share = float(Fraction(position - self.start) / (self.end - self.start))
        return self.start_gain + (self.end_gain - self.start_gain) * share

    def toward(self, gain: float, start: Position, length: Position) -> Fade:
        """A fade from the gain this one has at `start` to `gain`, over `length` (0: at once)."""
        return Fade(start, start + length, self.gain_at(start), gain)


class BlockGain:
    """Applies a sample-position `Fade` to float32 audio blocks in place; allocates nothing per block.

    Everything is float32 like the blocks, because a ufunc mixing dtypes allocates casting buffers. Only
    blocks inside the fade compute a ramp, and there positions are within the fade's length of its start,
    so float32 holds them exactly (up to 2**24 samples, about 6 minutes at 48 kHz).
    """

    def __init__(self, max_block: int) -> None:
        self._ramp = np.arange(max_block, dtype=np.float32)
        self._gain = np.zeros(max_block, dtype=np.float32)

    def apply(self, block: npt.NDArray[np.float32], first: int, fade: Fade) -> None:
        """Scale `block` (mono, stream samples `first`...) by the fade's gain at each sample."""
        size = len(block)
        if first >= fade.end or first + size <= fade.start or fade.start_gain == fade.end_gain:
            level = fade.gain_at(first if first + size <= fade.start else fade.end)
            if level != 1.0:
                np.multiply(block, level, out=block)
            return
        if fade.end == fade.start:  # a step inside this block: the old gain before it, the new one from it
            before, after = block[: fade.start - first], block[fade.start - first :]
            np.multiply(before, fade.start_gain, out=before)
            np.multiply(after, fade.end_gain, out=after)
            return
        gains = self._gain[:size]
        slope = (fade.end_gain - fade.start_gain) / float(fade.end - fade.start)
        np.add(self._ramp[:size], float(first - fade.start), out=gains)
        np.clip(gains, 0.0, float(fade.end - fade.start), out=gains)
        np.multiply(gains, slope, out=gains)
        np.add(gains, fade.start_gain, out=gains)
        np.multiply(block, gains, out=block)
