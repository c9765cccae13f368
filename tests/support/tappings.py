"""Synthetic tap sequences (hypothesis): isochronous beats and hits at known fractions of the interval,
with misses and extra hits, for the sync-analysis tests to recover."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st


@dataclass(frozen=True)
class Tapping:
    """Isochronous beats and hits placed at known fractions of the interval (None = missed beat)."""

    beats: np.ndarray
    ioi: float
    fractions: list[float | None]
    extras: list[float]

    @property
    def hits(self) -> np.ndarray:
        own = [b + f * self.ioi for b, f in zip(self.beats, self.fractions, strict=True) if f is not None]
        return np.array(own + self.extras)


@st.composite
def tappings(draw: st.DrawFn) -> Tapping:
    bpm = draw(st.floats(40, 200))
    ioi = 60.0 / bpm
    n = draw(st.integers(4, 60))
    start = draw(st.floats(0, 10_000))
    beats = start + ioi * np.arange(n)
    fractions = draw(st.lists(st.none() | st.floats(-0.45, 0.45), min_size=n, max_size=n))
    extras = []
    for beat, fraction in zip(beats, fractions, strict=True):
        if fraction is None or abs(fraction) > 0.4 or not draw(st.booleans()):
            continue
        # An extra hit strictly farther from the beat than the matched one, still inside the window.
        distance = draw(st.floats(abs(fraction) + 0.02, 0.45))
        extras.append(beat + draw(st.sampled_from([-1, 1])) * distance * ioi)
    return Tapping(beats, ioi, fractions, extras)
